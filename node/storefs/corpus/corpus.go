package corpus

import (
	"bufio"
	"crypto/sha256"
	"fmt"
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
