package atomicfile_test

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

func TestWriteFileReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, content := range []string{"one", "two"} {
		if err := atomicfile.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the file (temp files left behind)", len(ents))
	}
}

func TestCreateNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "key")
	if err := atomicfile.Create(p, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := atomicfile.Create(p, []byte("second"), 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: %v, want fs.ErrExist", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "first" {
		t.Fatalf("content %q after a refused Create, want first", got)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want 1", len(ents))
	}
}

func TestWriteFileMissingDirIsAnError(t *testing.T) {
	if err := atomicfile.WriteFile(filepath.Join(t.TempDir(), "no", "such"), nil, 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestSymlinkReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "current")
	for _, target := range []string{"generations/1", "generations/2"} {
		if err := atomicfile.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		got, err := os.Readlink(p)
		if err != nil || got != target {
			t.Fatalf("link -> %q, %v; want %q", got, err, target)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the link", len(ents))
	}
}

// TestRemoveStale: temporary files that killed writers left beside a state file (a file and a
// Symlink's directory) are removed; one whose writer is alive (it holds the flock) stays, and so
// do the file itself and other files.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := atomicfile.WriteFile(p, []byte("state"), 0o600); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".state.json.tmp-123")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	staleDir := filepath.Join(dir, ".state.json.tmp-456")
	if err := os.MkdirAll(staleDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("x", filepath.Join(staleDir, "link")); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, ".other.tmp-789")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, ".state.json.tmp-live")
	f, err := os.Create(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	n, err := atomicfile.RemoveStale(p)
	if err != nil || n != 2 {
		t.Fatalf("RemoveStale: %d, %v; want 2 removed", n, err)
	}
	for _, gone := range []string{stale, staleDir} {
		if _, err := os.Lstat(gone); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there (%v)", gone, err)
		}
	}
	for _, kept := range []string{p, other, live} {
		if _, err := os.Lstat(kept); err != nil {
			t.Errorf("%s removed: %v", kept, err)
		}
	}
	// Once its writer is gone (the lock dropped) it is stale too.
	f.Close()
	if n, err := atomicfile.RemoveStale(p); err != nil || n != 1 {
		t.Fatalf("RemoveStale after the writer died: %d, %v; want 1", n, err)
	}
}

// TestRemoveStaleWhileWriting: RemoveStale running against writers never makes a write fail
// or removes a file in place (a writer holds its temporary file's lock until it is renamed).
func TestRemoveStaleWhileWriting(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	link := filepath.Join(dir, "current")
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 100; i++ {
			if err := atomicfile.WriteFile(p, []byte(strconv.Itoa(i)), 0o600); err != nil {
				done <- err
				return
			}
			if err := atomicfile.Symlink(strconv.Itoa(i), link); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(p); err != nil || string(got) != "99" {
				t.Fatalf("state %q, %v", got, err)
			}
			if got, err := os.Readlink(link); err != nil || got != "99" {
				t.Fatalf("link %q, %v", got, err)
			}
			return
		default:
		}
		if _, err := atomicfile.RemoveStale(p); err != nil {
			t.Fatal(err)
		}
		if _, err := atomicfile.RemoveStale(link); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWriterCommitAndAbort: a streamed file is invisible until Commit, which replaces the old
// content; an aborted one leaves the old content and no temporary file.
func TestWriterCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.car")
	if err := atomicfile.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := atomicfile.NewWriter(p, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []string{"new ", "content"} {
		if _, err := w.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != "old" {
			t.Fatalf("before Commit %s reads %q, want the old content", p, got)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	w.Abort() // a no-op after Commit
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "new content" {
		t.Fatalf("read %q, %v after Commit", got, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", fi.Mode())
	}
	if err := w.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Commit: %v, want os.ErrClosed", err)
	}

	w, err = atomicfile.NewWriter(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("half")); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if got, _ := os.ReadFile(p); string(got) != "new content" {
		t.Fatalf("after Abort %s reads %q", p, got)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write after Abort: %v, want os.ErrClosed", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries after Abort, want only the file", len(ents))
	}
}

// TestWriterKilledMidWrite: a process killed (SIGKILL) while streaming leaves nothing under the
// file's name, only its temporary file, which RemoveStaleIn (or RemoveStale) removes once the
// writer is dead.
func TestWriterKilledMidWrite(t *testing.T) {
	if dir := os.Getenv("ATOMICFILE_CHILD_DIR"); dir != "" {
		w, err := atomicfile.NewWriter(filepath.Join(dir, "out.car"), 0o644)
		if err != nil {
			os.Exit(2)
		}
		if _, err := w.Write([]byte("half a file")); err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("written\n")
		// Killed here, between Write and Commit: blocked reading stdin, which the parent holds
		// open. Not select {}: a process whose every goroutine blocks with no timer and no I/O
		// pending dies of "all goroutines are asleep - deadlock!" (the child has no
		// -test.timeout, hence no timer) a few milliseconds later, dropping its lock, and the
		// parent's checks of a live writer raced that death (9 failures in 200 loaded runs).
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3) // stdin closed: the parent is gone
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "out.car")
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriterKilledMidWrite$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "written\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	// Alive, the writer holds its temporary file: not stale.
	if n, err := atomicfile.RemoveStale(p); err != nil || n != 0 {
		t.Fatalf("RemoveStale with the writer alive: %d, %v; want 0", n, err)
	}
	if n, err := atomicfile.RemoveStaleIn(dir); err != nil || n != 0 {
		t.Fatalf("RemoveStaleIn with the writer alive: %d, %v; want 0", n, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The writer must have died of the kill, not on its own before it: only then were the
	// checks above made against a live writer.
	if err := cmd.Wait(); !killed(err) {
		t.Fatalf("writer: %v, want killed by SIGKILL", err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists after the writer was killed before Commit (%v)", p, err)
	}
	// RemoveStaleIn, as a cache directory's opener calls it, finds it without its name.
	if n, err := atomicfile.RemoveStaleIn(dir); err != nil || n != 1 {
		t.Fatalf("RemoveStaleIn after the kill: %d, %v; want 1", n, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("directory holds %d entries, want none", len(ents))
	}
}

// killed reports whether err, from exec.Cmd.Wait, says the process died of SIGKILL.
func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
