package readbench

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	RunChildIfAsked()
	os.Exit(m.Run())
}

// TestReadCountsEveryByte: the child reads every file to the end, with and
// without dropping their pages first, and a missing file is an error.
func TestReadCountsEveryByte(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	var want int64
	for i, n := range []int{0, 1, 3<<20 + 5, 4096} {
		p := filepath.Join(dir, string(rune('a'+i)))
		if err := WriteInChunks(p, make([]byte, n), 4096); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		want += int64(n)
	}
	if fi, err := os.Stat(paths[2]); err != nil || fi.Size() != 3<<20+5 {
		t.Fatalf("WriteInChunks: %v %v", fi, err)
	}
	for _, drop := range []bool{false, true} {
		r, err := Read(paths, Options{DropCache: drop})
		if err != nil {
			t.Fatal(err)
		}
		if r.Bytes != want || r.Elapsed <= 0 || r.Rate() <= 0 {
			t.Fatalf("drop %v: %+v, want %d bytes", drop, r, want)
		}
	}
	if _, err := Read(append(paths, filepath.Join(dir, "missing")), Options{}); err == nil {
		t.Fatal("missing file: no error")
	}
}
