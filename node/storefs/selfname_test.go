package storefs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/boxo/ipld/unixfs/hamt"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
)

// writeSelfNamedTree makes an output whose entry names contain the
// placeholder: a file named after its own output with a symlink to it, a
// directory named after it, and (wide) a directory large enough to be a HAMT
// where every name contains it.
func writeSelfNamedTree(t *testing.T, dir string, ph []byte, wide int) {
	t.Helper()
	p := string(ph)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "lib", "share-"+p), 0o755))
	must(os.WriteFile(filepath.Join(dir, "lib", "lib-"+p+".so"), []byte("ELF at /ipfs/store/"+p+"/lib\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "lib", "share-"+p, "data"), []byte("data\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "lib", "plain"), []byte("plain\n"), 0o644))
	must(os.Symlink("/ipfs/store/"+p+"/lib/lib-"+p+".so", filepath.Join(dir, "lib", "libx.so")))
	must(os.Symlink("share-"+p+"/data", filepath.Join(dir, "lib", "data")))
	if wide > 0 {
		must(os.Mkdir(filepath.Join(dir, "wide"), 0o755))
		for i := range wide {
			must(os.WriteFile(filepath.Join(dir, "wide", fmt.Sprintf("%s-%05d", p, i)), nil, 0o644))
		}
	}
}

// TestSelfReferenceInNames: names are rewritten like contents and symlink
// targets, so a symlink to a file named after its own output resolves; the
// CID does not depend on the placeholder; boxo's reader (kubo's) still
// reads the directories, basic and HAMT, with the filler in the names.
func TestSelfReferenceInNames(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	ph := Placeholder("names")
	const wide = 3000 // > 256 KiB of estimated links: a HAMT directory
	src := t.TempDir()
	writeSelfNamedTree(t, src, ph, wide)
	root, err := s.AddPath(ctx, src, AddOptions{PreserveMode: true, SelfRef: ph})
	if err != nil {
		t.Fatal(err)
	}
	r := root.String()
	filler := string(SelfRefFiller)

	// Readers see the root's CID in names.
	ents, err := s.List(ctx, root, "lib")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	want := []string{"data", "lib-" + r + ".so", "libx.so", "plain", "share-" + r}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("names %v, want %v", names, want)
	}
	if _, err := s.Resolve(ctx, root, "lib/share-"+r+"/data"); err != nil {
		t.Fatalf("resolve shown name: %v", err)
	}
	if _, err := s.Resolve(ctx, root, "lib/lib-"+filler+".so"); err == nil {
		t.Fatal("the stored (filler) name resolves")
	}
	if _, err := s.Resolve(ctx, root, fmt.Sprintf("wide/%s-%05d", r, wide-1)); err != nil {
		t.Fatalf("resolve in HAMT directory: %v", err)
	}

	// Export: the symlink to the self-named file resolves.
	out := filepath.Join(t.TempDir(), "out")
	if err := s.Export(ctx, root, out); err != nil {
		t.Fatal(err)
	}
	tgt, err := os.Readlink(filepath.Join(out, "lib", "libx.so"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := "/ipfs/store/" + r
	if !strings.HasPrefix(tgt, prefix+"/") {
		t.Fatalf("symlink target %q", tgt)
	}
	got, err := os.ReadFile(filepath.Join(out, strings.TrimPrefix(tgt, prefix)))
	if err != nil {
		t.Fatalf("symlink to the self-named file dangles: %v", err)
	}
	if string(got) != "ELF at "+prefix+"/lib\n" {
		t.Fatalf("content %q", got)
	}
	if d, err := os.ReadFile(filepath.Join(out, "lib", "data")); err != nil || string(d) != "data\n" {
		t.Fatalf("relative symlink into self-named directory: %q %v", d, err)
	}
	wideEnts, err := os.ReadDir(filepath.Join(out, "wide"))
	if err != nil || len(wideEnts) != wide || !strings.HasPrefix(wideEnts[0].Name(), r+"-") {
		t.Fatalf("wide directory: %d entries, %v", len(wideEnts), err)
	}

	// The CID is a hash modulo self-references.
	ph2 := Placeholder("other")
	src2 := t.TempDir()
	writeSelfNamedTree(t, src2, ph2, wide)
	root2, err := s.AddPath(ctx, src2, AddOptions{PreserveMode: true, SelfRef: ph2, OnlyHash: true})
	if err != nil {
		t.Fatal(err)
	}
	if root2 != root {
		t.Fatalf("CID depends on the placeholder: %s vs %s", root2, root)
	}

	// Without the option the placeholder is an ordinary name: another CID.
	plain, err := s.AddPath(ctx, src, AddOptions{PreserveMode: true, OnlyHash: true})
	if err != nil {
		t.Fatal(err)
	}
	if plain == root {
		t.Fatal("names with self-references hashed like plain names")
	}

	// boxo's UnixFS reader (kubo's) reads both directories and sees the
	// stored names.
	for _, sub := range []string{"lib", "wide"} {
		nd, err := s.Resolve(ctx, root, sub)
		if err != nil {
			t.Fatal(err)
		}
		dir, err := uio.NewDirectoryFromNode(s.DAG(), nd)
		if err != nil {
			t.Fatalf("%s: boxo reads the directory: %v", sub, err)
		}
		links, err := dir.Links(ctx)
		if err != nil {
			t.Fatalf("%s: boxo lists the directory: %v", sub, err)
		}
		n := 0
		for _, l := range links {
			if strings.Contains(l.Name, filler) {
				n++
			}
			if strings.Contains(l.Name, string(ph)) || strings.Contains(l.Name, r) {
				t.Fatalf("%s: stored name %q", sub, l.Name)
			}
		}
		if sub == "lib" && n != 2 || sub == "wide" && n != wide {
			t.Fatalf("%s: %d stored names with the filler", sub, n)
		}
	}
	nd, err := s.Resolve(ctx, root, "wide")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hamt.NewHamtFromDag(s.DAG(), nd); err != nil {
		t.Fatalf("wide is not a HAMT directory: %v", err)
	}
}

// TestSelfReferenceNameCollision: two entries that differ only by the
// placeholder against the filler would get one stored name: a clear error.
func TestSelfReferenceNameCollision(t *testing.T) {
	s := openTemp(t)
	ph := Placeholder("collide")
	src := t.TempDir()
	for _, n := range []string{"x-" + string(ph), "x-" + string(SelfRefFiller)} {
		if err := os.WriteFile(filepath.Join(src, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.AddPath(context.Background(), src, AddOptions{SelfRef: ph})
	if err == nil || !strings.Contains(err.Error(), "same name modulo the self-reference placeholder") {
		t.Fatalf("err = %v", err)
	}
}

// TestNameRefsRoundTrip covers the encoding and the malformed cases.
func TestNameRefsRoundTrip(t *testing.T) {
	r := NameRefs{Len: SelfRefLen, Names: []NameRef{
		{Stored: string(SelfRefFiller) + string(SelfRefFiller), Offsets: []uint64{0, SelfRefLen}},
		{Stored: "a-" + string(SelfRefFiller), Offsets: []uint64{2}},
	}}
	nd, err := attachNameRefs(emptyDirNode(t), r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DirNameRefs(nd)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(r) {
		t.Fatalf("round trip %v, want %v", got, r)
	}
	c := cid.MustParse("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")
	root := []byte(c.String())
	if s := got.Shown(r.Names[0].Stored, root); s != c.String()+c.String() {
		t.Fatalf("shown %q", s)
	}
	if st, ok := got.Stored("a-"+c.String(), root); !ok || st != r.Names[1].Stored {
		t.Fatalf("stored %q %v", st, ok)
	}
	if _, ok := got.Stored(r.Names[1].Stored, root); ok {
		t.Fatal("stored name resolves")
	}
	for _, bad := range []NameRefs{
		{Len: SelfRefLen, Names: []NameRef{{Stored: "short", Offsets: []uint64{0}}}},
		{Len: SelfRefLen, Names: []NameRef{r.Names[1], r.Names[0]}},
	} {
		nd, err := attachNameRefs(emptyDirNode(t), bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DirNameRefs(nd); err == nil || !bytes.Contains([]byte(err.Error()), []byte("malformed")) {
			t.Fatalf("%v: err = %v", bad, err)
		}
	}
}

func emptyDirNode(t *testing.T) ipldNode {
	t.Helper()
	d, err := uio.NewDirectory(nil)
	if err != nil {
		t.Fatal(err)
	}
	nd, err := d.GetNode()
	if err != nil {
		t.Fatal(err)
	}
	return nd
}
