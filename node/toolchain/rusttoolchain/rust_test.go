package rusttoolchain_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	"github.com/buildchain/buildchain/node/toolchain/debian"
	"github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
	"github.com/buildchain/buildchain/node/toolchain/rusttoolchain"
)

func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

// debs is the .deb cache `make deps` fills; tests never download.
func debs(t *testing.T) string {
	t.Helper()
	if os.Getenv("BUILDCHAIN_TEST_CARGO") == "" {
		t.Skip("slow (imports the rust toolchain twice): make test-cargo")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds run in user/mount/pid namespaces")
	}
	dir := debian.DefaultDebCache()
	lock, err := debian.DebianLock()
	require.NoError(t, err)
	names := append([]string{debian.BusyboxPackage, debian.PatchelfPackage}, rusttoolchain.Rust.Packages...)
	for _, name := range append(names, gcctoolchain.GCC.Packages...) {
		if _, err := os.Stat(filepath.Join(dir, lock[name].Filename())); err != nil {
			t.Skipf("%s not in %s: run `make deps`", lock[name].Filename(), dir)
		}
	}
	return dir
}

// copyDebs copies the cached .debs to a fresh directory: another source path.
func copyDebs(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".deb" {
			continue
		}
		in, err := os.Open(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		out, err := os.Create(filepath.Join(to, e.Name()))
		require.NoError(t, err)
		_, err = io.Copy(out, in)
		require.NoError(t, err)
		in.Close()
		require.NoError(t, out.Close())
	}
	return to
}

type tenv struct {
	t   *testing.T
	env *toolchain.Env
	b   *builder.Builder
	log *bytes.Buffer
}

func newTEnv(t *testing.T) *tenv {
	t.Helper()
	home := t.TempDir()
	require.NoError(t, os.Chmod(home, 0o755))
	s, err := storefs.Open(filepath.Join(home, "ipfs"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	log := &bytes.Buffer{}
	fuse := false
	b, err := builder.New(s, builder.Config{StateDir: filepath.Join(home, "builds"), Log: log, Timeout: 5 * time.Minute, UseFUSE: &fuse})
	require.NoError(t, err)
	return &tenv{t: t, env: &toolchain.Env{Store: s, Builder: b, Options: map[string]string{}, Log: io.MultiWriter(log, testLog{t})}, b: b, log: log}
}

func (e *tenv) importTC(name, source string) cid.Cid {
	e.t.Helper()
	e.env.Source = source
	start := time.Now()
	c, err := toolchain.Import(context.Background(), name, "root", e.env)
	require.NoError(e.t, err, e.log.String())
	e.t.Logf("%s imported in %s", name, time.Since(start).Round(time.Millisecond))
	return c
}

// copyTo gives e2 toolchain c of e (blocks hash-checked on import: the same CID), as if
// imported there.
func (e *tenv) copyTo(e2 *tenv, name string, c cid.Cid) {
	e.t.Helper()
	ctx := context.Background()
	r, w := io.Pipe()
	go func() { w.CloseWithError(e.env.Store.ExportCAR(ctx, c, w)) }()
	_, err := e2.env.Store.ImportCAR(ctx, r)
	require.NoError(e.t, err)
	require.NoError(e.t, e2.env.Store.Pin("root", "toolchains", c))
	refs, err := e.b.References(ctx, c)
	require.NoError(e.t, err)
	require.NoError(e.t, e2.b.RecordRefs(c, refs))
	require.NoError(e.t, e2.b.RecordToolchain(name, c))
}

// testLog shows the importers' phases as they happen (go test -v).
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// helloDrv compiles a Rust program with the rust toolchain, linked by the gcc toolchain's cc,
// and runs it.
const helloDrv = `{"name":"hello-rust","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh",
	"args":["-c","set -e; export PATH=/ipfs/store/@bootstrap@/bin; printf '%s\\n' \"$src\" > hello.rs; mkdir -p $out/bin; /ipfs/store/@rust@/usr/bin/rustc -C opt-level=2 -C linker=/ipfs/store/@gcc@/bin/cc -o $out/bin/hello hello.rs; $out/bin/hello > $out/said"],
	"env":{"src":"fn main() { let v: Vec<u32> = (1..=10).collect(); println!(\"hello from Rust {}\", v.iter().sum::<u32>()); }"},
	"inputs":["@bootstrap@","@gcc@","@rust@"],"outputs":["out"]}`

func (e *tenv) build(tmpl string) (*builder.Result, error) {
	e.t.Helper()
	vars, err := e.b.TemplateVars()
	require.NoError(e.t, err)
	filled, err := builder.Template([]byte(tmpl), vars)
	require.NoError(e.t, err)
	d, err := derivation.Parse(filled)
	require.NoError(e.t, err)
	drv, err := e.b.AddDerivation(d)
	require.NoError(e.t, err)
	return e.b.Build(context.Background(), drv, builder.Options{})
}

// The rust toolchain imported into two fresh stores from two source paths has one CID; its
// rustc compiles and (through the gcc toolchain's cc) links a program in the sandbox, which
// runs and is byte-identical from both stores.
func TestRustToolchain(t *testing.T) {
	src := debs(t)
	e1 := newTEnv(t)
	rust1 := e1.importTC("rust", src)
	gcc := e1.importTC("gcc", src)
	e2 := newTEnv(t)
	rust2 := e2.importTC("rust", copyDebs(t, src))
	require.Equal(t, rust1, rust2, "same .debs, other source path and store: same toolchain CID")
	// The gcc toolchain's own test shows its import is the same everywhere: copy it.
	e1.copyTo(e2, "gcc", gcc)

	r1, err := e1.build(helloDrv)
	require.NoError(t, err, e1.log.String())
	r2, err := e2.build(helloDrv)
	require.NoError(t, err, e2.log.String())
	var said bytes.Buffer
	require.NoError(t, e2.env.Store.Cat(context.Background(), r2.Output, "said", &said))
	require.Equal(t, "hello from Rust 55\n", said.String())
	require.Equal(t, r1.Output, r2.Output, "the same program from both stores")
	t.Logf("hello built in %s", r1.BuildTime)
}
