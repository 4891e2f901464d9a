package storefs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// writeTree makes a small tree with a multi-chunk file, an executable, an
// empty file, a symlink and nested directories.
func writeTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"a.txt":          []byte("hello\n"),
		"bin/tool":       []byte("#!/bin/sh\necho tool\n"),
		"lib/big.bin":    bytes.Repeat([]byte("0123456789abcdef"), 70000), // > 4 chunks
		"lib/deep/empty": nil,
	}
	for p, d := range files {
		fp := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fp, d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "bin/tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/tool", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return files
}

func TestAddCatExportRoundTrip(t *testing.T) {
	s := openTemp(t)
	src := filepath.Join(t.TempDir(), "src")
	files := writeTree(t, src)
	ctx := context.Background()
	root, err := s.AddPath(ctx, src, AddOptions{PreserveMode: true})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range files {
		var buf bytes.Buffer
		if err := s.Cat(ctx, root, p, &buf); err != nil {
			t.Fatalf("cat %s: %v", p, err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("cat %s: wrong bytes", p)
		}
	}
	dest := filepath.Join(t.TempDir(), "out")
	if err := s.Export(ctx, root, dest); err != nil {
		t.Fatal(err)
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(dest, p))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("export %s: %v", p, err)
		}
	}
	fi, err := os.Stat(filepath.Join(dest, "bin/tool"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("export kept mode %v, %v", fi.Mode(), err)
	}
	if tgt, err := os.Readlink(filepath.Join(dest, "link")); err != nil || tgt != "bin/tool" {
		t.Fatalf("symlink: %q %v", tgt, err)
	}
	// Same content again: same CID, nothing rewritten.
	again, err := s.AddPath(ctx, src, AddOptions{PreserveMode: true})
	if err != nil || again != root {
		t.Fatalf("re-add: %s %v, want %s", again, err, root)
	}
	ents, err := s.List(ctx, root, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name+":"+e.Kind.String())
	}
	if got := names; len(got) != 4 || got[0] != "a.txt:file" || got[1] != "bin:dir" || got[3] != "link:symlink" {
		t.Fatalf("list: %v", got)
	}
}

func TestClosureAndTempPins(t *testing.T) {
	s := openTemp(t)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src)
	ctx := context.Background()
	root, err := s.AddPath(ctx, src, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := s.Closure(root)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.AllBlocks()
	if err != nil {
		t.Fatal(err)
	}
	if len(cl) != len(all) || cl[0] != root {
		t.Fatalf("closure has %d blocks, store %d", len(cl), len(all))
	}
	pins, err := s.ListPins()
	if err != nil || len(pins) != 1 || pins[0].Kind != "temp" || pins[0].CID != root {
		t.Fatalf("temp pin after add: %+v %v", pins, err)
	}
	// Live temp pin: GC keeps everything.
	res, err := s.GC(ctx)
	if err != nil || res.Removed != 0 || res.Kept != len(all) {
		t.Fatalf("gc with temp pin: %+v %v", res, err)
	}
	// A user pin survives dropping the temp pin.
	if err := s.Pin("alice", "hello", root); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseTempPin(root); err != nil {
		t.Fatal(err)
	}
	if res, err = s.GC(ctx); err != nil || res.Removed != 0 {
		t.Fatalf("gc with user pin: %+v %v", res, err)
	}
	if err := s.Unpin("alice", "hello", root); err != nil {
		t.Fatal(err)
	}
	if res, err = s.GC(ctx); err != nil || res.Removed != len(all) {
		t.Fatalf("gc without pins: %+v %v", res, err)
	}
	if _, err := s.GetBlock(root); err == nil {
		t.Fatal("root survived GC without pins")
	}
	// Temp pins of a dead pid are dangling.
	if err := s.TempPinFor(1<<22+12345, cid.MustParse("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")); err != nil {
		t.Fatal(err)
	}
	if res, err = s.GC(ctx); err != nil || res.DanglingPins != 1 {
		t.Fatalf("gc dead temp pin: %+v %v", res, err)
	}
}
