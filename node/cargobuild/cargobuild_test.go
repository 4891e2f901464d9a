package cargobuild_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/cargobuild"
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

// need skips unless the machine has what `make deps` provides: root, the .debs of both
// toolchains, Debian's cargo and the crates of examples/rust-cli.
func need(t *testing.T) {
	t.Helper()
	if os.Getenv("BUILDCHAIN_TEST_CARGO") == "" {
		t.Skip("slow (toolchain imports, cold cargo builds): make test-cargo")
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
	for _, p := range []string{cargobuild.DebianCargo, "/usr/share/cargo/registry/serde_json-1.0.87"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s missing: run `make deps`", p)
		}
	}
}

type peer struct {
	t         *testing.T
	store     *storefs.Store
	b         *builder.Builder
	rust, gcc cid.Cid
	bb        cid.Cid
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	home := t.TempDir()
	require.NoError(t, os.Chmod(home, 0o755))
	s, err := storefs.Open(filepath.Join(home, "ipfs"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	fuse := false
	b, err := builder.New(s, builder.Config{StateDir: filepath.Join(home, "builds"), Timeout: 10 * time.Minute, UseFUSE: &fuse})
	require.NoError(t, err)
	return &peer{t: t, store: s, b: b}
}

// importToolchains imports rust and gcc from the .deb cache.
func (p *peer) importToolchains() {
	p.t.Helper()
	ctx := context.Background()
	var log bytes.Buffer
	var err error
	start := time.Now()
	env := &toolchain.Env{Store: p.store, Builder: p.b, Options: map[string]string{}, Log: &log}
	p.rust, err = toolchain.Import(ctx, "rust", "test", env)
	require.NoError(p.t, err, log.String())
	p.gcc, err = toolchain.Import(ctx, "gcc", "test", env)
	require.NoError(p.t, err, log.String())
	p.bb, err = p.b.Bootstrap()
	require.NoError(p.t, err)
	p.t.Logf("toolchains imported in %s", time.Since(start).Round(time.Second))
}

// copyToolchains gives q p's toolchains (blocks hash-checked on import: the same CIDs), as a
// second developer who imported the same pinned .debs would have them.
func (p *peer) copyToolchains(q *peer) {
	p.t.Helper()
	ctx := context.Background()
	for _, c := range []cid.Cid{p.bb, p.gcc, p.rust} {
		r, w := io.Pipe()
		go func() { w.CloseWithError(p.store.ExportCAR(ctx, c, w)) }()
		_, err := q.store.ImportCAR(ctx, r)
		require.NoError(p.t, err)
		require.NoError(p.t, q.store.Pin("test", "toolchains", c))
		refs, err := p.b.References(ctx, c)
		require.NoError(p.t, err)
		require.NoError(p.t, q.b.RecordRefs(c, refs))
	}
	q.rust, q.gcc, q.bb = p.rust, p.gcc, p.bb
}

func (p *peer) cargo(dir string, args ...string) (*cargobuild.Stats, error) {
	p.t.Helper()
	start := time.Now()
	st, err := cargobuild.Run(context.Background(), cargobuild.Config{Store: p.store, Builder: p.b,
		Rust: p.rust, GCC: p.gcc, Bootstrap: p.bb, Dir: dir, Args: append([]string{"--offline"}, args...)})
	if st != nil {
		p.t.Logf("cargo build in %s: %d units (%d cached, %d built) in %s", dir, len(st.Units), st.Cached, st.Built, time.Since(start).Round(time.Millisecond))
	}
	return st, err
}

// example copies examples/NAME to a fresh directory (a checkout at another path).
func example(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "examples", name)
	dst := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("cp", "-r", src, dst).CombinedOutput()
	require.NoError(t, err, string(out))
	return dst
}

// outputs maps each unit (package, version, mode) to its output.
func outputs(st *cargobuild.Stats) map[string]cid.Cid {
	m := map[string]cid.Cid{}
	for _, u := range st.Units {
		m[u.Package+" "+u.Version+" "+u.Mode] = u.Output
	}
	return m
}

// run runs a unit's program in the sandbox (its loader and libc are the gcc toolchain's, by
// store path) and returns what it printed.
func (p *peer) run(out cid.Cid, file string, arg string) string {
	p.t.Helper()
	d := &derivation.Derivation{Name: "run-rust-cli", System: builder.HostSystem(), Builder: derivation.StorePrefix + p.bb.String() + "/bin/sh",
		Args:    []string{"-c", `"$prog" "$arg" > "$out"`},
		Env:     map[string]string{"prog": derivation.StorePrefix + out.String() + "/" + file, "arg": arg},
		Inputs:  []derivation.Input{{CID: p.bb}, {CID: out}},
		Outputs: []string{"out"}}
	drv, err := p.b.AddDerivation(d)
	require.NoError(p.t, err)
	res, err := p.b.Build(context.Background(), drv, builder.Options{})
	require.NoError(p.t, err)
	var buf bytes.Buffer
	require.NoError(p.t, p.store.Cat(context.Background(), res.Output, "", &buf))
	return buf.String()
}

// TestCargoBuild: examples/rust-cli (serde with the serde_derive proc macro, serde_json, and
// the build scripts of six crates, all from Debian's registry) built unit by unit; the
// program runs; a second build rebuilds nothing; a change in the crate rebuilds only its own
// unit; a second store, with the crate at another path, builds byte-identical units.
func TestCargoBuild(t *testing.T) {
	need(t)
	p1 := newPeer(t)
	p1.importToolchains()
	dir1 := example(t, "rust-cli")
	st, err := p1.cargo(dir1)
	require.NoError(t, err)
	require.Equal(t, len(st.Units), st.Built, "a fresh store builds every unit")
	modes := map[string]bool{}
	for _, u := range st.Units {
		modes[u.Mode] = true
	}
	for _, m := range []string{"lib", "bin", "proc-macro", "build-script", "build-script-run"} {
		require.True(t, modes[m], "a %s unit", m)
	}
	bin := filepath.Join(dir1, "target", "debug", "rust-cli")
	require.Equal(t, []string{bin}, st.Binaries)
	first, err := os.ReadFile(bin)
	require.NoError(t, err)

	// The program, from its unit's store path.
	var binUnit cargobuild.Unit
	for _, u := range st.Units {
		if u.Mode == "bin" {
			binUnit = u
		}
	}
	ents, err := p1.store.List(context.Background(), binUnit.Output, "")
	require.NoError(t, err)
	var prog string
	for _, e := range ents {
		if strings.HasPrefix(e.Name, "rust_cli-") && !strings.HasSuffix(e.Name, ".d") {
			prog = e.Name
		}
	}
	require.Equal(t, `{"points":[{"x":1,"y":2},{"x":3,"y":4}],"sum":{"x":4,"y":6}}`+"\n",
		p1.run(binUnit.Output, prog, `[{"x":1,"y":2},{"x":3,"y":4}]`))

	// Nothing changed: nothing is built.
	again, err := p1.cargo(dir1)
	require.NoError(t, err)
	require.Equal(t, 0, again.Built)
	require.Equal(t, outputs(st), outputs(again))

	// Another store, the crate at another path: the same units, byte for byte.
	p2 := newPeer(t)
	p1.copyToolchains(p2)
	dir2 := example(t, "rust-cli")
	st2, err := p2.cargo(dir2)
	require.NoError(t, err)
	require.Equal(t, len(st2.Units), st2.Built)
	require.Equal(t, outputs(st), outputs(st2), "every unit's output is the same in both stores")
	second, err := os.ReadFile(filepath.Join(dir2, "target", "debug", "rust-cli"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(first, second), "target/debug/rust-cli is byte-identical")

	// A change in the crate's own source rebuilds its unit only.
	main := filepath.Join(dir1, "src", "main.rs")
	data, err := os.ReadFile(main)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(main, append(data, []byte("\n// changed\n")...), 0o644))
	changed, err := p1.cargo(dir1)
	require.NoError(t, err)
	require.Equal(t, 1, changed.Built, "only the binary's unit")
	var keys []string
	for k, v := range outputs(changed) {
		if v != outputs(st)[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	require.Equal(t, []string{"rust-cli 0.1.0 bin"}, keys)

	t.Run("build script fails", func(t *testing.T) { buildScriptFails(t, p1) })
}

// A build script that needs what the sandbox lacks fails with its own error shown, and
// nothing of the crate is built.
func buildScriptFails(t *testing.T, p *peer) {
	for _, tc := range []struct {
		name, buildRS, want string
	}{
		{"network", `fn main() { std::net::TcpStream::connect("93.184.216.34:80").expect("build script: no network to download the data"); }`,
			"build script: no network to download the data"},
		{"system library", `fn main() { println!("cargo:rustc-link-lib=buildchain_no_such_lib"); }`,
			"-lbuildchain_no_such_lib"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "needs")
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "src"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "Cargo.toml"), []byte("[package]\nname = \"needs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "build.rs"), []byte(tc.buildRS), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "src", "main.rs"), []byte("fn main() {}\n"), 0o644))
			st, err := p.cargo(dir)
			require.Error(t, err)
			require.True(t, errors.Is(err, cargobuild.ErrUnit), err.Error())
			require.Contains(t, err.Error(), tc.want)
			require.NoFileExists(t, filepath.Join(dir, "target", "debug", "needs"))
			for _, u := range st.Units {
				require.NotEqual(t, "bin", u.Mode)
			}
		})
	}
}
