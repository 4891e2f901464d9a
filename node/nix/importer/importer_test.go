package importer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/nix-community/go-nix/pkg/nixbase32"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/nix/drv"
	"github.com/buildchain/buildchain/node/nix/nar"
	"github.com/buildchain/buildchain/node/nix/nixtest"
	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
	"github.com/buildchain/buildchain/node/storefs"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

type env struct {
	dir, root string
	store     *storefs.Store
	index     *Index
	b         *builder.Builder
	log       *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	nixtest.Need(t)
	dir := t.TempDir()
	log := &bytes.Buffer{}
	s, b := nixtest.Store(t, dir, log)
	idx, err := OpenIndex(filepath.Join(dir, "nix-index"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{dir: dir, root: filepath.Join(dir, "nixroot"), store: s, index: idx, b: b, log: log}
}

func (e *env) importer() *Importer {
	return New(e.store, filepath.Join(e.root, "nix", "store"), e.index, e.log)
}

// TestBuildEqualsNix imports a two-derivation closure instantiated by the real nix, builds it
// in our sandbox in Nix's layout, and compares every output's NAR hash with Nix's own build
// of the same .drv (and the files, to show what differs if anything does).
func TestBuildEqualsNix(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bb := nixtest.Busybox(t, e.dir)
	drvs := nixtest.Instantiate(t, e.root, e.dir, nixtest.TwoStep(bb, "build-equals-nix"))
	imported, err := e.importer().Import(ctx, drvs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(imported) != 2 || imported[1].DrvPath != drvs[0] || imported[0].DrvPath != drvs[1] {
		t.Fatalf("imported %+v", imported)
	}
	res, err := e.b.Build(ctx, imported[1].Derivation, builder.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log)
	}
	// Nix builds the same .drv (cores = 1, as our sandbox says NIX_BUILD_CORES=1).
	nixtest.Run(t, "nix-store", "--store", e.root, "--realise", drvs[0])
	for _, im := range imported {
		entry, err := e.index.Get(im.Out[len("/nix/store/") : len("/nix/store/")+32])
		if err != nil || entry.Derivation != im.Derivation.String() || entry.DrvPath != im.DrvPath {
			t.Fatalf("index entry of %s: %+v %v", im.Out, entry, err)
		}
		var out cid.Cid
		if im.DrvPath == drvs[0] {
			out = res.Output
		} else {
			r, err := e.b.Build(ctx, im.Derivation, builder.Options{})
			if err != nil || !r.Cached {
				t.Fatalf("input %s not cached: %v", im.DrvPath, err)
			}
			out = r.Output
		}
		sum, _, err := nar.HashStore(ctx, e.store, out)
		if err != nil {
			t.Fatal(err)
		}
		ours := "sha256:" + nixbase32.EncodeToString(sum[:])
		theirs := nixtest.Run(t, "nix-store", "--store", e.root, "--query", "--hash", im.Out)
		if ours != theirs {
			exported := filepath.Join(e.dir, "ours-"+filepath.Base(im.Out))
			_ = e.store.Export(ctx, out, exported)
			diff, _ := nixtest.RunErr("diff", nil, "-r", exported, nixtest.OnDisk(e.root, im.Out))
			t.Fatalf("%s: NarHash %s, nix built %s\n%s", im.Out, ours, theirs, diff)
		}
	}
	if data, err := os.ReadFile(nixtest.OnDisk(e.root, imported[0].Out+"/share/env")); err == nil {
		t.Logf("greeting's environment, the same in both builds:\n%s", data)
	}
	// hello refers to greeting's output and to busybox, not to itself: recorded as CIDs.
	refs, err := e.b.References(ctx, res.Output)
	if err != nil || len(refs) != 2 {
		t.Fatalf("references of hello's output: %v %v", refs, err)
	}
}

// TestImportRefuses: what cannot be imported fails with a clear error and stores nothing new.
func TestImportRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bb := nixtest.Busybox(t, e.dir)
	drvs := nixtest.Instantiate(t, e.root, e.dir, nixtest.TwoStep(bb, "refuses"))
	storeDir := filepath.Join(e.root, "nix", "store")

	// A malformed .drv: a copy of a real one, cut short, under a store name.
	data, err := os.ReadFile(nixtest.OnDisk(e.root, drvs[1]))
	if err != nil {
		t.Fatal(err)
	}
	bad := "/nix/store/" + strings.Repeat("0", 32) + "-bad.drv"
	if err := os.WriteFile(filepath.Join(storeDir, filepath.Base(bad)), data[:len(data)/2], 0o444); err != nil {
		t.Fatal(err)
	}
	// A well-formed .drv under someone else's name.
	liar := "/nix/store/" + strings.Repeat("1", 32) + "-greeting.drv"
	if err := os.WriteFile(filepath.Join(storeDir, filepath.Base(liar)), data, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
		msg  string
	}{
		{bad, drv.ErrSyntax, "end of input"},
		{liar, drv.ErrInvalid, "hashes to"},
		{"/nix/store/" + strings.Repeat("2", 32) + "-missing.drv", os.ErrNotExist, "no such file"},
		{"/tmp/x.drv", drv.ErrInvalid, "not the store path"},
	} {
		blocksBefore := countFiles(t, filepath.Join(e.dir, "ipfs", "blocks"))
		_, err := e.importer().Import(ctx, tc.path)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Fatalf("import %s: %v, want %v containing %q", tc.path, err, tc.want, tc.msg)
		}
		if n := countFiles(t, filepath.Join(e.dir, "ipfs", "blocks")); n != blocksBefore {
			t.Fatalf("import %s failed but stored %d blocks", tc.path, n-blocksBefore)
		}
	}
	// Derivations we do not build: a Nix builtin, a fetcher, several outputs.
	kinds := nixtest.Instantiate(t, e.root, e.dir, `
[
  (builtins.derivation { name = "builtin"; system = "x86_64-linux"; builder = "builtin:buildenv"; })
  (builtins.derivation { name = "fetch"; system = "x86_64-linux"; builder = "/bin/sh";
     outputHashMode = "flat"; outputHashAlgo = "sha256";
     outputHash = "0000000000000000000000000000000000000000000000000000000000000000"; })
  (builtins.derivation { name = "multi"; system = "x86_64-linux"; builder = "/bin/sh"; outputs = [ "out" "dev" ]; })
]`)
	for i, want := range []struct {
		err error
		msg string
	}{{ErrBuilder, "builtin:buildenv"}, {drv.ErrUnsupported, "fixed-output"}, {drv.ErrUnsupported, "single output"}} {
		if _, err := e.importer().Import(ctx, kinds[i]); !errors.Is(err, want.err) || !strings.Contains(err.Error(), want.msg) {
			t.Fatalf("import %s: %v, want %v containing %q", kinds[i], err, want.err, want.msg)
		}
	}
	// A source changed on disk after nix added it.
	src := nixtest.OnDisk(e.root, mustParse(t, data).InputSrcs[0])
	if err := os.Chmod(filepath.Join(src, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "bin", "extra"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.importer().Import(ctx, drvs[1]); !errors.Is(err, ErrSource) {
		t.Fatalf("changed source: %v", err)
	}
}

func mustParse(t *testing.T, data []byte) *drv.Derivation {
	d, err := drv.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n
}
