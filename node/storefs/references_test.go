package storefs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/derivation"
)

// GC walks with the one closure walker: a pinned output keeps the store
// paths it references at run time, and a pinned derivation keeps its inputs,
// though neither is an IPLD link. An unpinned path referenced by nothing
// pinned is swept.
func TestGCKeepsReferencesAndDerivationInputs(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	add := func(name, content string) cid.Cid {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := s.AddPath(ctx, d, AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	lib := add("lib.so", "a library")
	app := add("app", "#!/ipfs/store/"+lib.String()+"/lib.so")
	src := add("src.c", "int main(){}")
	garbage := add("junk", "nobody wants this")
	if err := s.SetReferences(app, []cid.Cid{lib}); err != nil {
		t.Fatal(err)
	}
	data, drv, err := (&derivation.Derivation{
		Builder: "/ipfs/store/" + src.String() + "/src.c",
		Inputs:  []derivation.Input{{CID: src}},
		Name:    "d", Outputs: []string{"out"}, System: "x86_64-linux",
	}).Block()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlock(drv, data); err != nil {
		t.Fatal(err)
	}
	for _, c := range []cid.Cid{app, drv} {
		if err := s.Pin("u", "test", c); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []cid.Cid{lib, app, src, garbage} {
		_ = s.ReleaseTempPin(c) // AddPath leaves a temp pin
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]cid.Cid{"referenced lib": lib, "derivation input": src, "output": app, "derivation": drv} {
		cl, err := s.Closure(c)
		if err != nil {
			t.Fatalf("%s %s lost by GC: %v", name, c, err)
		}
		for _, b := range cl {
			if ok, _ := s.HasBlock(b); !ok {
				t.Fatalf("%s: block %s lost by GC", name, b)
			}
		}
	}
	if ok, _ := s.HasBlock(garbage); ok {
		t.Fatal("unreferenced path survived GC")
	}
	got, ok, err := s.RecordedReferences(app)
	if err != nil || !ok || len(got) != 1 || !got[0].Equals(lib) {
		t.Fatalf("RecordedReferences(app) = %v, %v, %v; want [lib]", got, ok, err)
	}
	if _, ok, _ := s.RecordedReferences(src); ok {
		t.Fatal("references recorded for a path nobody scanned")
	}
}
