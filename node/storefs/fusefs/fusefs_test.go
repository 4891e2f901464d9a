package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/corpus"
	"github.com/ipfs/go-cid"
	"golang.org/x/sys/unix"
)

func needFUSE(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("needs FUSE (root or fusermount3, and /dev/fuse): %v", err)
	}
}

func mountTemp(t *testing.T, s *storefs.Store) string {
	t.Helper()
	mnt := t.TempDir()
	srv, err := Mount(s, mnt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return mnt
}

func openStore(t *testing.T) *storefs.Store {
	t.Helper()
	s, err := storefs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// compareTrees checks every path of src under got byte for byte, with the execute bits and
// symlink targets (corpus.Compare), and returns how many it compared.
func compareTrees(t *testing.T, src, got string) int {
	t.Helper()
	n, diffs, err := corpus.Compare(src, got, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	return n
}

func TestFUSEReadsTreeByteForByte(t *testing.T) {
	needFUSE(t)
	s := openStore(t)
	dir := t.TempDir()
	if err := corpus.Generate(dir, "fuse"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root, err := s.AddPath(ctx, dir, storefs.AddOptions{PreserveMode: true})
	if err != nil {
		t.Fatal(err)
	}
	mnt := mountTemp(t, s)
	n := compareTrees(t, dir, filepath.Join(mnt, root.String()))
	if n < 5000 {
		t.Fatalf("compared %d paths only", n)
	}
	li, err := os.Lstat(filepath.Join(mnt, root.String(), "tree", "link"))
	if err != nil || li.Mode().Perm() != 0o777 || li.Size() != int64(len("bin/hello")) {
		t.Fatalf("symlink attributes: %v %v", li, err)
	}
	// A sub-CID is a root of its own; unknown and malformed names are ENOENT.
	sub, err := s.Resolve(ctx, root, "tree")
	if err != nil {
		t.Fatal(err)
	}
	compareTrees(t, filepath.Join(dir, "tree"), filepath.Join(mnt, sub.Cid().String()))
	if _, err := os.Stat(filepath.Join(mnt, "not-a-cid")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("malformed name: %v", err)
	}
	absent := cid.MustParse("bafkreie7ohywtosou76tasm7j63yigtzxe7d5zqus4zu3j6oltvgtibeom")
	if _, err := os.Stat(filepath.Join(mnt, absent.String())); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("absent CID: %v", err)
	}
	if err := os.WriteFile(filepath.Join(mnt, root.String(), "small.txt"), []byte("x"), 0o644); err == nil {
		t.Fatal("write to the read-only view succeeded")
	}
}

func leafOf(t *testing.T, s *storefs.Store, root cid.Cid, p string, i int) cid.Cid {
	t.Helper()
	nd, err := s.Resolve(context.Background(), root, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(nd.Links()) == 0 {
		return nd.Cid()
	}
	return nd.Links()[i].Cid
}

func TestFUSECorruptAndMissingBlocksGiveEIO(t *testing.T) {
	needFUSE(t)
	s := openStore(t)
	dir := t.TempDir()
	data := map[string][]byte{
		"a.bin":     corpus.Stream("a", 3*262144+5),
		"b.bin":     corpus.Stream("b", 2*262144),
		"c.bin":     corpus.Stream("c", 1000),
		"sub/d.txt": []byte("in a directory whose block is corrupted\n"),
	}
	for n, d := range data {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, n), d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := s.AddPath(context.Background(), dir, storefs.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte of a.bin's second leaf; delete c.bin's only block.
	bad := leafOf(t, s, root, "a.bin", 1)
	p := s.BlockPath(bad)
	blk, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	blk[100] ^= 0x01
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, blk, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.BlockPath(leafOf(t, s, root, "c.bin", 0))); err != nil {
		t.Fatal(err)
	}
	// Corrupt the directory block of sub/ (its name field, so it still
	// parses: only the hash check can catch it).
	subNd, err := s.Resolve(context.Background(), root, "sub")
	if err != nil {
		t.Fatal(err)
	}
	sp := s.BlockPath(subNd.Cid())
	sb, _ := os.ReadFile(sp)
	i := bytes.Index(sb, []byte("d.txt"))
	if i < 0 {
		t.Fatal("dir block without the name")
	}
	sb[i] = 'e'
	os.Chmod(sp, 0o644)
	if err := os.WriteFile(sp, sb, 0o444); err != nil {
		t.Fatal(err)
	}
	mnt := mountTemp(t, s)
	base := filepath.Join(mnt, root.String())

	f, err := os.Open(filepath.Join(base, "a.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, 0); err != nil { // first leaf is fine
		t.Fatalf("read intact leaf: %v", err)
	}
	if !bytes.Equal(buf, data["a.bin"][:4096]) {
		t.Fatal("intact leaf: wrong bytes")
	}
	_, err = f.ReadAt(buf, 262144+50)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("read corrupted leaf: got %v, want EIO", err)
	}
	if _, err := os.ReadFile(filepath.Join(base, "a.bin")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read whole corrupted file: got %v, want EIO", err)
	}
	if _, err := os.ReadFile(filepath.Join(base, "c.bin")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read file with missing block: got %v, want EIO", err)
	}
	if _, err := os.ReadDir(filepath.Join(base, "sub")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("list corrupted directory: got %v, want EIO", err)
	}
	if _, err := os.Stat(filepath.Join(base, "sub", "e.txt")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("lookup in corrupted directory: got %v, want EIO", err)
	}
	got, err := os.ReadFile(filepath.Join(base, "b.bin"))
	if err != nil || !bytes.Equal(got, data["b.bin"]) {
		t.Fatalf("intact file after errors: %v", err)
	}
}

func TestFUSESelfReference(t *testing.T) {
	needFUSE(t)
	s := openStore(t)
	ph := storefs.Placeholder("drv-self")
	dir := t.TempDir()
	// The placeholder straddles the first chunk boundary and appears in a
	// small file too; plain.txt has none and must keep its ordinary CID.
	big := corpus.Stream("big", 3*262144)
	copy(big[262144-20:], ph)
	copy(big[500000:], ph)
	script := []byte("#!/bin/sh\nexec /ipfs/store/" + string(ph) + "/bin/real \"$@\"\n")
	plain := []byte("no self reference here\n")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644))
	must(os.WriteFile(filepath.Join(dir, "run"), script, 0o755))
	must(os.WriteFile(filepath.Join(dir, "plain.txt"), plain, 0o644))
	must(os.Symlink("/ipfs/store/"+string(ph)+"/run", filepath.Join(dir, "link")))
	ctx := context.Background()
	root, err := s.AddPath(ctx, dir, storefs.AddOptions{PreserveMode: true, SelfRef: ph})
	must(err)
	real := []byte(root.String())
	want := func(b []byte) []byte { return bytes.ReplaceAll(b, ph, real) }

	mnt := mountTemp(t, s)
	for name, src := range map[string][]byte{"big.bin": big, "run": script, "plain.txt": plain} {
		got, err := os.ReadFile(filepath.Join(mnt, root.String(), name))
		must(err)
		if !bytes.Equal(got, want(src)) {
			t.Errorf("%s: self-references not written back", name)
		}
		if bytes.Contains(got, ph) {
			t.Errorf("%s: placeholder visible", name)
		}
	}
	if tgt, err := os.Readlink(filepath.Join(mnt, root.String(), "link")); err != nil || tgt != "/ipfs/store/"+root.String()+"/run" {
		t.Errorf("symlink target through FUSE: %q %v", tgt, err)
	}
	// Unaligned small reads across the straddling reference.
	f, err := os.Open(filepath.Join(mnt, root.String(), "big.bin"))
	must(err)
	defer f.Close()
	b := make([]byte, 7)
	_, err = f.ReadAt(b, 262144-3)
	must(err)
	if !bytes.Equal(b, want(big)[262144-3:262144+4]) {
		t.Errorf("unaligned read: %q", b)
	}
	// Export writes the same bytes.
	out := filepath.Join(t.TempDir(), "out")
	must(s.Export(ctx, root, out))
	got, err := os.ReadFile(filepath.Join(out, "run"))
	must(err)
	if !strings.Contains(string(got), "/ipfs/store/"+root.String()+"/bin/real") {
		t.Errorf("export: %q", got)
	}
	if tgt, err := os.Readlink(filepath.Join(out, "link")); err != nil || tgt != "/ipfs/store/"+root.String()+"/run" {
		t.Errorf("exported symlink target: %q %v", tgt, err)
	}
	// The CID is a hash modulo self-references: another placeholder gives
	// the same root; a file without one keeps its plain CID.
	dir2 := t.TempDir()
	ph2 := storefs.Placeholder("another-drv")
	must(os.WriteFile(filepath.Join(dir2, "big.bin"), bytes.ReplaceAll(big, ph, ph2), 0o644))
	must(os.WriteFile(filepath.Join(dir2, "run"), bytes.ReplaceAll(script, ph, ph2), 0o755))
	must(os.WriteFile(filepath.Join(dir2, "plain.txt"), plain, 0o644))
	must(os.Symlink("/ipfs/store/"+string(ph2)+"/run", filepath.Join(dir2, "link")))
	root2, err := s.AddPath(ctx, dir2, storefs.AddOptions{PreserveMode: true, SelfRef: ph2})
	must(err)
	if root2 != root {
		t.Errorf("CID depends on the placeholder: %s vs %s", root2, root)
	}
	withRef, err := s.Resolve(ctx, root, "plain.txt")
	must(err)
	plainOnly, err := s.AddPath(ctx, filepath.Join(dir, "plain.txt"), storefs.AddOptions{PreserveMode: true})
	must(err)
	if withRef.Cid() != plainOnly {
		t.Errorf("file without self-references changed CID: %s vs %s", withRef.Cid(), plainOnly)
	}
}

// TestFUSESelfReferenceInNames: a file named after its own output is listed
// under the root's CID and a symlink to it resolves through the mount.
func TestFUSESelfReferenceInNames(t *testing.T) {
	needFUSE(t)
	s := openStore(t)
	ph := string(storefs.Placeholder("drv-names"))
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "lib"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "lib", "lib-"+ph+".so"), []byte("lib of /ipfs/store/"+ph+"\n"), 0o644))
	must(os.Symlink("/ipfs/store/"+ph+"/lib/lib-"+ph+".so", filepath.Join(dir, "lib", "libx.so")))
	root, err := s.AddPath(context.Background(), dir, storefs.AddOptions{PreserveMode: true, SelfRef: []byte(ph)})
	must(err)
	r := root.String()
	mnt := mountTemp(t, s)
	ents, err := os.ReadDir(filepath.Join(mnt, r, "lib"))
	must(err)
	if len(ents) != 2 || ents[0].Name() != "lib-"+r+".so" {
		t.Fatalf("listing: %v", ents)
	}
	tgt, err := os.Readlink(filepath.Join(mnt, r, "lib", "libx.so"))
	must(err)
	// The mount stands in for /ipfs/store.
	got, err := os.ReadFile(filepath.Join(mnt, strings.TrimPrefix(tgt, "/ipfs/store/")))
	if err != nil {
		t.Fatalf("symlink %q to the self-named file dangles: %v", tgt, err)
	}
	if string(got) != "lib of /ipfs/store/"+r+"\n" {
		t.Fatalf("content %q", got)
	}
	if _, err := os.Stat(filepath.Join(mnt, r, "lib", "lib-"+string(storefs.SelfRefFiller)+".so")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stored name visible: %v", err)
	}
}

// TestMountSetsReadahead: a mount's kernel readahead window is raised from
// the kernel's 128 KiB (as root; others keep the default and still read
// correctly), and a negative option keeps the default.
func TestMountSetsReadahead(t *testing.T) {
	needFUSE(t)
	if os.Geteuid() != 0 {
		t.Skip("only root may set a mount's readahead")
	}
	s := openStore(t)
	for _, tc := range []struct{ opt, want int }{{0, defaultReadaheadKiB}, {-1, 128}, {2048, 2048}} {
		mnt := t.TempDir()
		srv, err := Mount(s, mnt, Options{ReadaheadKiB: tc.opt})
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Stat(mnt, &st); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev)))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != fmt.Sprint(tc.want) {
			t.Errorf("option %d: read_ahead_kb %s, want %d", tc.opt, got, tc.want)
		}
		if err := srv.Unmount(); err != nil {
			t.Fatal(err)
		}
	}
}
