package storefs

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/buildchain/buildchain/node/block"
)

// storeSnapshot lists blocks, pins and temp files, to prove "unchanged".
func storeSnapshot(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	for _, sub := range []string{"blocks", "tmp", "pins/per-user"} {
		filepath.WalkDir(filepath.Join(s.Root(), sub), func(p string, d fs.DirEntry, err error) error {
			if err == nil {
				b.WriteString(p + "\n")
			}
			return nil
		})
	}
	return b.String()
}

func TestBadInputLeavesStoreUnchanged(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	base, err := s.AddReader(ctx, strings.NewReader("existing\n"), 0, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap := storeSnapshot(t, s)
	check := func(name string, err error, want string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %q does not say %q", name, err, want)
		}
		if got := storeSnapshot(t, s); got != snap {
			t.Fatalf("%s: store changed:\n%s\nvs\n%s", name, got, snap)
		}
	}

	_, err = s.AddPath(ctx, "/nonexistent/path/xyz", AddOptions{})
	check("nonexistent path", err, "no such file or directory")

	// A tree with a file that cannot be added: the other files' blocks must
	// not stay behind. Permission bits do not stop root, so a mode-0000 file
	// is only tried as non-root; a FIFO is refused as unsupported, and
	// /proc/self/mem fails on read (EIO at offset 0) even for root.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), bytes.Repeat([]byte("a"), 300000), 0o644)
	if os.Geteuid() != 0 {
		os.WriteFile(filepath.Join(dir, "z.txt"), []byte("secret"), 0o000)
		_, err = s.AddPath(ctx, dir, AddOptions{})
		check("unreadable file", err, "permission denied")
		os.Remove(filepath.Join(dir, "z.txt"))
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "z.fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.AddPath(ctx, dir, AddOptions{})
	check("fifo in tree", err, "unsupported file type")

	_, err = s.AddPath(ctx, "/proc/self/mem", AddOptions{})
	check("unreadable file (read error)", err, "input/output error")

	// Self-reference placeholder of the wrong length.
	_, err = s.AddPath(ctx, filepath.Join(dir, "a.txt"), AddOptions{SelfRef: []byte("short")})
	check("bad placeholder", err, "placeholder")

	// Malformed CIDs and paths.
	for _, arg := range []string{"", "nope", "bafy!!!", "/ipfs/Qm", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzd"} {
		_, _, err := ParsePath(arg)
		if err == nil {
			t.Fatalf("ParsePath(%q) accepted", arg)
		}
	}
	if _, _, err := ParsePath("/ipfs/store/" + base.String() + "/a/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, base, "no/such"); err == nil {
		t.Fatal("resolved a path inside a file")
	}
	if err := s.Pin("bad/user", "p", base); err == nil || !strings.Contains(err.Error(), "invalid user") {
		t.Fatalf("pin with bad user: %v", err)
	}
	if err := s.Unpin("u", "p", base); err == nil {
		t.Fatal("unpin of a pin that does not exist succeeded")
	}
	if got := storeSnapshot(t, s); got != snap {
		t.Fatal("store changed by lookups")
	}
	// Put of a block whose bytes do not match its CID.
	err = s.PutBlock(base, []byte("not the content"))
	if !errors.Is(err, block.ErrCorrupt) {
		t.Fatalf("put mismatched block: %v", err)
	}
	err = s.Blockstore().Put(ctx, mustBlock(t, base, []byte("forged")))
	check("blockstore put of forged block", err, "corrupted")
}
