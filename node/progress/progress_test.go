package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func ptr(b bool) *bool { return &b }

// The case: two updates of a fetch on a non-terminal must be two lines, not
// "fetching: 1/2 blocksfetching: 3/3 blocks".
func TestPlainLinesEndInNewlines(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "fetching bafyx", 0, Options{Label: "blocks", Interval: -1})
	b.Update(1, 2)
	b.Update(2, 3)
	b.Update(3, 3)
	b.Finish()
	want := "fetching bafyx: 1/2 blocks (50%)\n" +
		"fetching bafyx: 2/3 blocks (66%)\n" +
		"fetching bafyx: 3/3 blocks (100%)\n"
	if got := buf.String(); got != want {
		t.Fatalf("plain output:\n%q\nwant\n%q", got, want)
	}
}

// With the default interval a burst of updates prints the first and the final state only,
// so logs are not flooded; nothing is a carriage-return redraw.
func TestPlainLinesThrottled(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "adding tree", 4<<20, Options{Unit: Bytes})
	for n := int64(1); n <= 4; n++ {
		b.Set(n << 20)
	}
	b.Finish()
	b.Finish() // a second end does nothing
	b.Set(1)   // nor does progress after the end
	want := "adding tree: 1.0 MiB/4.0 MiB (25%)\n" +
		"adding tree: 4.0 MiB/4.0 MiB (100%)\n"
	if got := buf.String(); got != want {
		t.Fatalf("plain output:\n%q\nwant\n%q", got, want)
	}
}

func TestPlainStopAndUnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "building hello", 0, Options{Label: "steps", Interval: -1})
	b.Set(2)
	b.Stop()
	if got, want := buf.String(), "building hello: 2 steps\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	buf.Reset()
	b = New(&buf, "fetching x", 10, Options{Label: "blocks"})
	b.Set(4)
	b.Stop() // failed at 4 of 10: the last line says so, not 100%
	if got := buf.String(); !strings.HasSuffix(got, "fetching x: 4/10 blocks (40%)\n") || strings.Contains(got, "100%") {
		t.Fatalf("stopped bar: %q", got)
	}
}

func TestNilBarShowsNothing(t *testing.T) {
	var b *Bar
	b.Set(1)
	b.Update(1, 2)
	b.Finish()
	b.Stop()
	if b.Func() != nil {
		t.Fatal("nil bar gives a non-nil callback")
	}
	if New(nil, "x", 1, Options{}) != nil {
		t.Fatal("New(nil writer) is not nil")
	}
}

// A pipe is not a terminal: plain lines.
func TestPipeIsPlain(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if IsTerminal(w) {
		t.Fatal("a pipe taken for a terminal")
	}
	b := New(w, "fetching y", 2, Options{Label: "blocks"})
	b.Func()(1, 2)
	b.Func()(2, 2)
	b.Finish()
	w.Close()
	out, _ := io.ReadAll(r)
	if strings.Contains(string(out), "\r") || string(out) != "fetching y: 1/2 blocks (50%)\nfetching y: 2/2 blocks (100%)\n" {
		t.Fatalf("pipe output: %q", out)
	}
}

// On a real terminal (a pseudo-terminal made here) the bar redraws one line in place with
// carriage returns and ends it with a newline once done.
func TestTerminalRedraws(t *testing.T) {
	master, slave := openPTY(t)
	if !IsTerminal(slave) {
		t.Fatal("pty slave not detected as a terminal")
	}
	b := New(slave, "fetching z", 10, Options{Label: "blocks"})
	b.Update(3, 10)
	b.Update(10, 12) // the total grew
	b.Update(12, 12)
	b.Finish()
	slave.Close()
	out := readAll(master)
	if !strings.Contains(out, "\r") || !strings.Contains(out, "fetching z") || !strings.Contains(out, "12/12") {
		t.Fatalf("terminal output lacks a redrawn bar reaching 12/12: %q", out)
	}
	if !strings.HasSuffix(strings.TrimRight(out, " "), "\n") {
		t.Fatalf("terminal output does not end its line: %q", out)
	}
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("terminal output has %d line ends, want 1 (one line redrawn): %q", strings.Count(out, "\n"), out)
	}
}

func TestTerminalStopKeepsState(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "fetching w", 10, Options{Label: "blocks", Terminal: ptr(true)})
	b.Set(4)
	b.Stop()
	out := buf.String()
	if !strings.Contains(out, "4/10") || strings.Contains(out, "10/10") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("stopped terminal bar: %q", out)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 19: "1.5 MiB", 5 << 30: "5.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// openPTY opens a pseudo-terminal pair (/dev/ptmx) without raw-mode changes; output
// post-processing (\n -> \r\n) is turned off so the test reads what was written.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pts: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Oflag &^= unix.OPOST
	if err := unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// readAll reads what the slave wrote; the master reports EIO once the slave is closed.
func readAll(m *os.File) string {
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := m.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}
