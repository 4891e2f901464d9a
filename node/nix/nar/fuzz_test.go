package nar

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRestore: any input either restores into a tree whose NAR is exactly the input, or is
// refused leaving nothing behind; it never panics.
func FuzzRestore(f *testing.F) {
	var buf bytes.Buffer
	if err := DumpDir(&buf, tree(f.TempDir(), f)); err == nil {
		f.Add(buf.Bytes())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dest := filepath.Join(t.TempDir(), "out")
		if err := Restore(bytes.NewReader(data), dest); err != nil {
			if _, serr := os.Lstat(dest); !os.IsNotExist(serr) {
				t.Fatalf("refused (%v) but left %s", err, dest)
			}
			return
		}
		var again bytes.Buffer
		if err := DumpDir(&again, dest); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), data) {
			t.Fatal("restored tree dumps to other bytes")
		}
	})
}
