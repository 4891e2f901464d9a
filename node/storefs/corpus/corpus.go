package corpus

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stream returns the first n bytes of sha256(seed:0) ‖ sha256(seed:1) ‖ …
func Stream(seed string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	for i := 0; len(out) < n; i++ {
		s := sha256.Sum256([]byte(seed + ":" + strconv.Itoa(i)))
		out = append(out, s[:]...)
	}
	return out[:n]
}

// Generate writes dir/{big.bin,mid.bin,small.txt,empty,tree/,wide/} exactly as
// gen-corpus.py DIR seed does.
func Generate(dir, seed string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// 50 MiB + 123 bytes: a two-level balanced tree.
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	for k := 0; k < 50; k++ {
		bw.Write(Stream(fmt.Sprintf("%s-big%d", seed, k), 1<<20))
	}
	bw.Write(Stream(seed+"-tail", 123))
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"mid.bin", Stream(seed+"-mid", 3*262144+17), 0o644},
		{"small.txt", []byte(seed + " small file\n"), 0o644},
		{"empty", nil, 0o644},
		{"tree/bin/hello", []byte("#!/bin/sh\necho hello from " + seed + "\n"), 0o755},
		{"tree/share/doc/README", []byte(strings.Repeat(seed+" tree\n", 100)), 0o644},
		{"tree/share/doc/deep/blob", Stream(seed+"-blob", 300000), 0o644},
		{"tree/share/empty", nil, 0o644},
	}
	for _, fl := range files {
		p := filepath.Join(dir, fl.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, fl.data, fl.mode); err != nil {
			return err
		}
		// WriteFile keeps an existing file's mode and honours the umask.
		if err := os.Chmod(p, fl.mode); err != nil {
			return err
		}
	}
	link := filepath.Join(dir, "tree/link")
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink("bin/hello", link); err != nil {
			return err
		}
	}
	// 5,000 entries: past kubo's 256 KiB HAMT threshold.
	w := filepath.Join(dir, "wide")
	if err := os.MkdirAll(w, 0o755); err != nil {
		return err
	}
	for k := 0; k < 5000; k++ {
		name := fmt.Sprintf("%s-entry-%05d-padding-name.txt", seed, k)
		if err := os.WriteFile(filepath.Join(w, name), []byte(strconv.Itoa(k)+"\n"), 0o644); err != nil {
			return err
		}
	}
	// Directories as python's os.makedirs leaves them under a 022 umask.
	for _, d := range []string{"tree", "tree/bin", "tree/share", "tree/share/doc", "tree/share/doc/deep", "wide"} {
		if err := os.Chmod(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Compare walks the tree want and checks the same path under got: its type, the target of a
// symlink, the bytes of a file and its mode (only the owner's execute bit when execOnly, as a
// FUSE view or an export shows it; else the whole mode, the root's aside). It returns how many
// paths it compared and one line per difference.
func Compare(want, got string, execOnly bool) (int, []string, error) {
	n := 0
	var diffs []string
	differ := func(format string, a ...any) { diffs = append(diffs, fmt.Sprintf(format, a...)) }
	err := filepath.WalkDir(want, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		gp := filepath.Join(got, rel)
		wi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		gi, err := os.Lstat(gp)
		if err != nil {
			differ("%s: %v", rel, err)
			return nil
		}
		if wi.Mode().Type() != gi.Mode().Type() {
			differ("%s: type %v vs %v", rel, wi.Mode().Type(), gi.Mode().Type())
			return nil
		}
		n++
		switch {
		case execOnly && wi.Mode().IsRegular() && wi.Mode()&0o100 != gi.Mode()&0o100:
			differ("%s: exec bit %v vs %v", rel, wi.Mode(), gi.Mode())
		case !execOnly && rel != "." && wi.Mode() != gi.Mode():
			differ("%s: mode %v vs %v", rel, wi.Mode(), gi.Mode())
		}
		switch {
		case wi.Mode()&os.ModeSymlink != 0:
			a, _ := os.Readlink(p)
			b, _ := os.Readlink(gp)
			if a != b {
				differ("%s: link %q vs %q", rel, a, b)
			}
		case wi.Mode().IsRegular():
			a, _ := os.ReadFile(p)
			b, err := os.ReadFile(gp)
			if err != nil || !bytes.Equal(a, b) {
				differ("%s: contents differ (%v)", rel, err)
			}
		}
		return nil
	})
	return n, diffs, err
}
