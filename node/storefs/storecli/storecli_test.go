package storecli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
	"github.com/ipfs/go-cid"
)

const childEnv = "STORECLI_CHILD_ARGS"

func TestMain(m *testing.M) {
	// Re-executed as `buildchaind store ...` for the signal test.
	if a := os.Getenv(childEnv); a != "" {
		cmd := NewCmd()
		cmd.SetArgs(strings.Split(a, "\x1f"))
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func run(t *testing.T, store string, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	cmd := NewCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetIn(bytes.NewReader(stdin))
	cmd.SetArgs(append([]string{"--store", store}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func mustRun(t *testing.T, store string, args ...string) string {
	t.Helper()
	out, errs, err := run(t, store, nil, args...)
	if err != nil {
		t.Fatalf("store %v: %v\n%s", args, err, errs)
	}
	return out
}

var cidRe = regexp.MustCompile(`^bafy[a-z2-7]{55}$`)

func TestStoreRootResolution(t *testing.T) {
	if got, _ := StoreRoot("/x/y"); got != "/x/y" {
		t.Fatal(got)
	}
	t.Setenv("BUILDCHAIN_HOME", "/bc")
	if got, _ := StoreRoot(""); got != "/bc/ipfs" {
		t.Fatal(got)
	}
	t.Setenv("BUILDCHAIN_HOME", "")
	t.Setenv("HOME", "/home/zed")
	if got, _ := StoreRoot(""); got != "/home/zed/.buildchain/ipfs" {
		t.Fatal(got)
	}
}

func TestCLIEndToEnd(t *testing.T) {
	store := t.TempDir()
	src := filepath.Join(t.TempDir(), "pkg")
	os.MkdirAll(filepath.Join(src, "bin"), 0o755)
	os.WriteFile(filepath.Join(src, "bin", "hi"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.WriteFile(filepath.Join(src, "README"), []byte("readme\n"), 0o644)
	os.Symlink("bin/hi", filepath.Join(src, "run"))

	// add -q prints only the CID (the kubo-compatible one).
	out := mustRun(t, store, "add", "-q", "--preserve-mode", src)
	root := strings.TrimSpace(out)
	if !cidRe.MatchString(root) {
		t.Fatalf("add -q printed %q", out)
	}
	if got := mustRun(t, store, "add", "-q", "-n", "--preserve-mode", src); got != out {
		t.Fatalf("add --only-hash: %q vs %q", got, out)
	}
	out = mustRun(t, store, "add", "--preserve-mode", src)
	if out != "added "+root+" "+src+"\n" {
		t.Fatalf("add printed %q", out)
	}
	if got := mustRun(t, store, "cat", root+"/bin/hi"); got != "#!/bin/sh\necho hi\n" {
		t.Fatalf("cat: %q", got)
	}
	if got := mustRun(t, store, "cat", "/ipfs/store/"+root+"/README"); got != "readme\n" {
		t.Fatalf("cat /ipfs/store path: %q", got)
	}
	ls := mustRun(t, store, "ls", root)
	for _, want := range []string{"README", "bin/", "run -> bin/hi", "0755"} {
		if !strings.Contains(ls, want) {
			t.Fatalf("ls lacks %q:\n%s", want, ls)
		}
	}
	st := mustRun(t, store, "stat", root)
	if !strings.Contains(st, "Type:   dir") || !strings.Contains(st, "Blocks: 5") {
		t.Fatalf("stat:\n%s", st)
	}
	dest := filepath.Join(t.TempDir(), "got")
	mustRun(t, store, "get", root, dest)
	if fi, err := os.Stat(filepath.Join(dest, "bin/hi")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("get: %v %v", fi, err)
	}

	// Pins: add pinned the root for the current user; GC keeps it.
	pins := mustRun(t, store, "pin", "ls")
	if !strings.Contains(pins, root) || !strings.Contains(pins, "/store-add") {
		t.Fatalf("pin ls:\n%s", pins)
	}
	if out := mustRun(t, store, "gc"); !strings.Contains(out, "removed 0 blocks") {
		t.Fatalf("gc with pin: %s", out)
	}
	// A malformed CID among several changes no pin.
	if _, _, err := run(t, store, nil, "pin", "add", "--user", "carol", root, "not-a-cid"); err == nil {
		t.Fatal("pin add with a malformed CID: no error")
	}
	if pins := mustRun(t, store, "pin", "ls"); strings.Contains(pins, "carol") {
		t.Fatalf("a failed pin add pinned for carol:\n%s", pins)
	}
	mustRun(t, store, "pin", "add", "--user", "bob", "--prog", "demo", root)
	mustRun(t, store, "pin", "rm", root)
	if out := mustRun(t, store, "gc"); !strings.Contains(out, "removed 0 blocks") {
		t.Fatalf("gc with bob's pin: %s", out)
	}

	// CAR export to a file and to stdout; import into a fresh store.
	car := filepath.Join(t.TempDir(), "x.car")
	mustRun(t, store, "export", "-o", car, root)
	carStdout := mustRun(t, store, "export", root)
	carFile, _ := os.ReadFile(car)
	if carStdout != string(carFile) {
		t.Fatal("export to stdout and to a file differ")
	}
	store2 := t.TempDir()
	if out := mustRun(t, store2, "import", car); out != "imported "+root+"\n" {
		t.Fatalf("import: %q", out)
	}
	out, _, err := run(t, store2, carFile, "import", "-")
	if err != nil || out != "imported "+root+"\n" {
		t.Fatalf("import from stdin: %q %v", out, err)
	}
	if got := mustRun(t, store2, "cat", root+"/README"); got != "readme\n" {
		t.Fatalf("cat after import: %q", got)
	}

	// verify: all good, then flip a byte of one block.
	if out := mustRun(t, store, "verify"); !strings.Contains(out, "all good") {
		t.Fatalf("verify: %s", out)
	}
	readme := blockOf(t, store, root, "README")
	bp := filepath.Join(store, "blocks", readme.String())
	b, _ := os.ReadFile(bp)
	b[len(b)-2] ^= 1
	os.Chmod(bp, 0o644)
	os.WriteFile(bp, b, 0o444)
	out, _, err = run(t, store, nil, "verify")
	if err == nil || !strings.Contains(out, "bad "+readme.String()) {
		t.Fatalf("verify after corruption: %q %v", out, err)
	}
	if _, _, err := run(t, store, nil, "cat", root+"/README"); err == nil {
		t.Fatal("cat of a corrupted block succeeded")
	}
}

func TestCLIBadInput(t *testing.T) {
	store := t.TempDir()
	for _, args := range [][]string{
		{"add", "/no/such/path"},
		{"cat", "not-a-cid"},
		{"ls", "bafy123"},
		{"cat", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku/x"},
		{"pin", "add", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"},
		{"import", "/no/such.car"},
		{"export", "zzz"},
		{"get", "nope", "/tmp/x"},
	} {
		_, _, err := run(t, store, nil, args...)
		if err == nil {
			t.Errorf("store %v: no error", args)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(store, "blocks"))
	if len(ents) != 0 {
		t.Fatalf("bad input wrote %d blocks", len(ents))
	}
}

// blockOf is the CID of the root block at path p inside root, in the store at dir.
func blockOf(t *testing.T, dir, root, p string) cid.Cid {
	t.Helper()
	s, err := storefs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nd, err := s.Resolve(context.Background(), mustCID(t, root), p)
	if err != nil {
		t.Fatal(err)
	}
	return nd.Cid()
}

func mustCID(t *testing.T, s string) cid.Cid {
	t.Helper()
	c, _, err := storefs.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCLIMountUnmountsOnSignal runs `store mount` in a child process, reads
// through it, sends SIGINT and expects a clean exit and no mount left.
func TestCLIMountUnmountsOnSignal(t *testing.T) {
	if err := fusefs.Available(); err != nil {
		t.Skipf("needs FUSE: %v", err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		store := t.TempDir()
		f := filepath.Join(t.TempDir(), "f.txt")
		os.WriteFile(f, []byte("through fuse\n"), 0o644)
		root := strings.TrimSpace(mustRun(t, store, "add", "-q", f))
		mnt := filepath.Join(t.TempDir(), "mnt")
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{"--store", store, "mount", mnt}, "\x1f"))
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stderr).ReadString('\n')
		if !strings.Contains(line, "mounted at") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("mount did not start: %q", line)
		}
		got, err := os.ReadFile(filepath.Join(mnt, root))
		if err != nil || string(got) != "through fuse\n" {
			t.Errorf("read through mount: %q %v", got, err)
		}
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v: mount exited with %v", sig, err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: mount did not exit", sig)
		}
		mounts, _ := os.ReadFile("/proc/self/mounts")
		if strings.Contains(string(mounts), mnt) {
			t.Fatalf("%v: %s still mounted", sig, mnt)
		}
	}
}

// TestCLIExportToPipe: stdout is usually a pipe (store export CID > x.car,
// | ipfs dag import); an *os.File pipe must work, and errors print no usage.
func TestCLIExportToPipe(t *testing.T) {
	store := t.TempDir()
	f := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(f, []byte("piped\n"), 0o644)
	root := strings.TrimSpace(mustRun(t, store, "add", "-q", f))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(pr)
		got <- b
	}()
	cmd := NewCmd()
	cmd.SetOut(pw)
	cmd.SetArgs([]string{"--store", store, "export", root})
	err = cmd.Execute()
	pw.Close()
	car := <-got
	if err != nil || len(car) == 0 {
		t.Fatalf("export to a pipe: %v (%d bytes)", err, len(car))
	}
	store2 := t.TempDir()
	out, _, err := run(t, store2, car, "import", "-")
	if err != nil || out != "imported "+root+"\n" {
		t.Fatalf("import piped car: %q %v", out, err)
	}
	_, errOut, err := run(t, store, nil, "cat", "nonsense")
	if err == nil || strings.Contains(errOut, "Usage:") {
		t.Fatalf("bad CID: err %v, stderr %q", err, errOut)
	}
}

// TestCLIExportFailsLeavingNothing: an export that fails part-way (a block of the closure is
// missing, after the header and other blocks were written) leaves the file named by -o as it
// was and no temporary file beside it (internal/atomicfile's Writer).
func TestCLIExportFailsLeavingNothing(t *testing.T) {
	store := t.TempDir()
	src := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(strings.Repeat(name, 1000)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := strings.TrimSpace(mustRun(t, store, "add", "-q", src))
	if err := os.Remove(filepath.Join(store, "blocks", blockOf(t, store, root, "c").String())); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	for _, before := range []string{"", "an older export\n"} {
		car := filepath.Join(outDir, "x.car")
		if before != "" {
			if err := os.WriteFile(car, []byte(before), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := run(t, store, nil, "export", "-o", car, root); err == nil {
			t.Fatal("export of a closure with a missing block succeeded")
		}
		got, err := os.ReadFile(car)
		switch {
		case before == "" && !errors.Is(err, fs.ErrNotExist):
			t.Fatalf("failed export left %s (%d bytes, %v)", car, len(got), err)
		case before != "" && string(got) != before:
			t.Fatalf("failed export changed %s to %d bytes (%v)", car, len(got), err)
		}
		ents, _ := os.ReadDir(outDir)
		want := 0
		if before != "" {
			want = 1
		}
		if len(ents) != want {
			t.Fatalf("%d entries beside the export, want %d (a temporary file left)", len(ents), want)
		}
	}
}
