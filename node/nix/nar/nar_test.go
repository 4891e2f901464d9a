package nar

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nix-community/go-nix/pkg/nixbase32"

	"github.com/buildchain/buildchain/node/nix/nixtest"
	"github.com/buildchain/buildchain/node/storefs"
)

// tree makes a directory with what a NAR can hold: nested dirs, an executable, an empty file,
// names that sort differently bytewise than case-insensitively, relative and absolute links.
func tree(dir string, t testing.TB) string {
	t.Helper()
	root := filepath.Join(dir, "tree")
	files := map[string]string{"B": "upper", "a": "lower", "sub/deep/x": "x\n", "empty": ""}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "run"), bytes.Repeat([]byte("#!/bin/sh\n"), 5000), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"rel": "sub/deep/x", "abs": "/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-busybox"} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestAgainstNix: our NAR of a directory, and of the same tree added to our store, are
// byte-identical to `nix-store --dump`; Restore of Nix's dump gives the tree back, and Nix's
// NarHash of the path added to its store equals ours.
func TestAgainstNix(t *testing.T) {
	nixtest.Need(t)
	ctx := context.Background()
	dir := t.TempDir()
	src := tree(dir, t)
	want := []byte(nixtest.Run(t, "sh", "-c", "nix-store --dump "+src+" | base64 -w0"))
	nixDump, err := decodeB64(want)
	if err != nil {
		t.Fatal(err)
	}
	var ours bytes.Buffer
	if err := DumpDir(&ours, src); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours.Bytes(), nixDump) {
		t.Fatal("DumpDir differs from nix-store --dump")
	}
	s, err := storefs.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.AddPath(ctx, src, storefs.AddOptions{PreserveMode: true})
	if err != nil {
		t.Fatal(err)
	}
	var fromStore bytes.Buffer
	if err := DumpStore(ctx, &fromStore, s, c); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromStore.Bytes(), nixDump) {
		t.Fatal("DumpStore differs from nix-store --dump")
	}
	sum, size, err := HashStore(ctx, s, c)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(nixDump)) || sum != sha256.Sum256(nixDump) {
		t.Fatal("HashStore disagrees with the dump")
	}
	// Nix's own NarHash of the tree once in a Nix store.
	root := filepath.Join(dir, "nixroot")
	p := nixtest.Run(t, "nix-store", "--store", root, "--add", src)
	nixHash := nixtest.Run(t, "nix-store", "--store", root, "--query", "--hash", p)
	if got := "sha256:" + nixbase32.EncodeToString(sum[:]); got != nixHash {
		t.Fatalf("NarHash %s, nix says %s", got, nixHash)
	}

	out := filepath.Join(dir, "restored")
	if err := Restore(bytes.NewReader(nixDump), out); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := DumpDir(&again, out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), nixDump) {
		t.Fatal("restored tree dumps differently")
	}
	if fi, err := os.Stat(filepath.Join(out, "run")); err != nil || fi.Mode().Perm() != 0o555 {
		t.Fatalf("executable restored as %v (%v)", fi.Mode(), err)
	}
}

// TestRestoreBad: every truncation of a NAR (the last padding's bytes included), a NAR with
// trailing bytes and one whose padding is not zeros are refused with ErrMalformed and leave
// nothing behind.
func TestRestoreBad(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := DumpDir(&buf, tree(dir, t)); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	cases := map[string][]byte{"trailing": append(append([]byte(nil), good...), 0)}
	for n := 0; n < len(good); n += 1 + n/7 {
		cases[fmt.Sprintf("truncated at %d", n)] = good[:n]
	}
	for n := len(good) - 7; n < len(good); n++ { // in the padding of the closing ")"
		cases[fmt.Sprintf("truncated at %d", n)] = good[:n]
	}
	// "nix-archive-1" is the 13 bytes after the first length: 3 bytes of padding follow.
	padded := append([]byte(nil), good...)
	padded[8+13] = 'x'
	cases["padding not zero"] = padded
	for name, data := range cases {
		dest := filepath.Join(dir, "out")
		err := Restore(bytes.NewReader(data), dest)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: %v", name, err)
		}
		if _, serr := os.Lstat(dest); !os.IsNotExist(serr) {
			t.Fatalf("%s: %s left behind (%v)", name, dest, err)
		}
	}
}

func decodeB64(b []byte) ([]byte, error) {
	return base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
}
