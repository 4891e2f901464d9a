package atomicfile_test

import (
	"errors"
	"io/fs"
	"os"
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
