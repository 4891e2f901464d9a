package cargobuild_test

import (
	"bytes"
	"context"
	"errors"
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
	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
	"github.com/buildchain/buildchain/node/toolchain/debian/debiantest"
	"github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
	"github.com/buildchain/buildchain/node/toolchain/rusttoolchain"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// need skips unless opted in and the machine has what `make deps` provides: root, the .debs
// of both toolchains, Debian's cargo and the crates of examples/rust-cli.
func need(t *testing.T, optIn bool) {
	t.Helper()
	if optIn && os.Getenv("BUILDCHAIN_TEST_CARGO") == "" {
		t.Skip("slow (toolchain imports, cold cargo builds): make test-cargo")
	}
	debiantest.Debs(t, rusttoolchain.Rust, gcctoolchain.GCC)
	for _, p := range []string{cargobuild.DebianCargo, "/usr/share/cargo/registry/serde_json-1.0.87"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s missing: run `make deps`", p)
		}
	}
}

// peer is one developer's store and builder with the rust and gcc toolchains.
type peer struct {
	*debiantest.Env
	t         *testing.T
	rust, gcc cid.Cid
	bb        cid.Cid
	// cargo and plan choose the planning cargo and how it is asked (Config.Cargo, Plan).
	cargoBin, plan string
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	return &peer{Env: debiantest.New(t, false), t: t}
}

// importToolchains imports rust and gcc from the .deb cache.
func (p *peer) importToolchains() {
	p.t.Helper()
	p.rust = p.Import("rust", "")
	p.gcc = p.Import("gcc", "")
	p.bb = p.Bootstrap()
}

// copyToolchains gives q p's toolchains, as a second developer who imported the same pinned
// .debs would have them.
func (p *peer) copyToolchains(q *peer) {
	p.t.Helper()
	p.CopyTo(q.Env, "", p.bb)
	p.CopyTo(q.Env, "gcc", p.gcc)
	p.CopyTo(q.Env, "rust", p.rust)
	q.rust, q.gcc, q.bb = p.rust, p.gcc, p.bb
}

func (p *peer) cargo(dir string, args ...string) (*cargobuild.Stats, error) {
	p.t.Helper()
	start := time.Now()
	st, err := cargobuild.Run(context.Background(), cargobuild.Config{Store: p.Store, Builder: p.Builder,
		Rust: p.rust, GCC: p.gcc, Bootstrap: p.bb, Dir: dir, Cargo: p.cargoBin, Plan: p.plan,
		Args: append([]string{"--offline"}, args...)})
	if st != nil {
		p.t.Logf("cargo build in %s: %d units (%d cached, %d built) in %s", dir, len(st.Units), st.Cached, st.Built, time.Since(start).Round(time.Millisecond))
	}
	return st, err
}

// example copies examples/NAME to a fresh directory (a checkout at another path).
func example(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return checkout(t, filepath.Join(filepath.Dir(file), "..", "..", "examples", name))
}

// checkout copies directory src to a fresh directory.
func checkout(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
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
func (p *peer) run(out cid.Cid, file string, args ...string) string {
	p.t.Helper()
	d := &derivation.Derivation{Name: "run-rust-cli", System: builder.HostSystem(), Builder: derivation.StorePrefix + p.bb.String() + "/bin/sh",
		Args:    append([]string{"-c", `"$prog" "$@" > "$out"`, "run"}, args...),
		Env:     map[string]string{"prog": derivation.StorePrefix + out.String() + "/" + file},
		Inputs:  []derivation.Input{{CID: p.bb}, {CID: out}},
		Outputs: []string{"out"}}
	drv, err := p.Builder.AddDerivation(d)
	require.NoError(p.t, err)
	res, err := p.Builder.Build(context.Background(), drv, builder.Options{})
	require.NoError(p.t, err)
	var buf bytes.Buffer
	require.NoError(p.t, p.Store.Cat(context.Background(), res.Output, "", &buf))
	return buf.String()
}

// binary is the program of a build's bin unit: its output and file name there.
func binary(t *testing.T, p *peer, st *cargobuild.Stats, prefix string) (cid.Cid, string) {
	t.Helper()
	for _, u := range st.Units {
		if u.Mode != "bin" {
			continue
		}
		ents, err := p.Store.List(context.Background(), u.Output, "")
		require.NoError(t, err)
		for _, e := range ents {
			if strings.HasPrefix(e.Name, prefix) && !strings.HasSuffix(e.Name, ".d") {
				return u.Output, e.Name
			}
		}
	}
	t.Fatalf("no bin unit with a file %s*", prefix)
	return cid.Undef, ""
}

// TestCargoBuildSmall (in make test): both toolchains imported into a fresh store, then
// testdata/small (a registry dependency, a proc-macro crate of the workspace and a build script
// whose rustc-env and rustc-cfg the binary uses) built from Debian cargo's build plan, then
// with --release from its unit graph; both programs run in the sandbox and print the same.
// A second build rebuilds nothing; a newer cargo (a rustup one, if the machine has it) plans
// through its unit graph.
func TestCargoBuildSmall(t *testing.T) {
	need(t, false)
	p := newPeer(t)
	p.importToolchains()
	want := "hello from a proc macro, built by a build script: 6\n"
	for _, tc := range []struct {
		name, cargo, plan string
		args              []string
	}{
		{"build plan", "", cargobuild.PlanBuildPlan, nil},
		{"unit graph, release", "", cargobuild.PlanUnitGraph, []string{"--release"}},
		{"newer cargo", filepath.Join(os.Getenv("HOME"), ".cargo", "bin", "cargo"), "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cargo != "" {
				if _, err := os.Stat(tc.cargo); err != nil {
					t.Skipf("no %s on this machine", tc.cargo)
				}
			}
			p.cargoBin, p.plan = tc.cargo, tc.plan
			dir := checkout(t, filepath.Join("testdata", "small"))
			st, err := p.cargo(dir, tc.args...)
			require.NoError(t, err)
			require.Equal(t, len(st.Units), st.Built+st.Cached)
			modes := map[string]int{}
			for _, u := range st.Units {
				modes[u.Mode]++
			}
			require.Equal(t, map[string]int{"lib": 1, "proc-macro": 1, "bin": 1, "build-script": 1, "build-script-run": 1}, modes)
			profile := "debug"
			if len(tc.args) > 0 {
				profile = "release"
			}
			require.Equal(t, []string{filepath.Join(dir, "target", profile, "small")}, st.Binaries)
			require.FileExists(t, st.Binaries[0])
			out, file := binary(t, p, st, "small-")
			require.Equal(t, want, p.run(out, file, "1", "2", "3"))

			again, err := p.cargo(dir, tc.args...)
			require.NoError(t, err)
			require.Equal(t, 0, again.Built, "nothing changed: nothing built")
			require.Equal(t, outputs(st), outputs(again))
		})
	}
}

// TestCargoBuild: examples/rust-cli (serde with the serde_derive proc macro, serde_json, and
// the build scripts of six crates, all from Debian's registry) built unit by unit; the
// program runs; a second build rebuilds nothing; a change in the crate rebuilds only its own
// unit; a second store, with the crate at another path, builds byte-identical units.
func TestCargoBuild(t *testing.T) {
	need(t, true)
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
	ents, err := p1.Store.List(context.Background(), binUnit.Output, "")
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
		{"network", `use std::net::ToSocketAddrs; fn main() { "index.crates.io:443".to_socket_addrs().expect("build script: no network to download the data"); }`,
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

// TestCargoBuildLinks: testdata/links, a package with `links = "greeting"` whose build script
// writes a file to its OUT_DIR and prints metadata (cargo:include=DIR, cargo:word=...), and a
// package depending on it whose build script reads them as DEP_GREETING_INCLUDE and
// DEP_GREETING_WORD, the file through that store path, and hands the result to its binary:
// from Debian cargo's build plan and from its unit graph, the program runs and says so. The
// workspace's warnings are shown as cargo shows them: the build script's cargo:warning and
// rustc's warning of an unused variable in the binary.
func TestCargoBuildLinks(t *testing.T) {
	need(t, true)
	p := newPeer(t)
	p.importToolchains()
	for _, plan := range []string{cargobuild.PlanBuildPlan, cargobuild.PlanUnitGraph} {
		t.Run(plan, func(t *testing.T) {
			p.plan = plan
			st, err := p.cargo(checkout(t, filepath.Join("testdata", "links")))
			require.NoError(t, err)
			require.Len(t, st.Units, 6, "each package's lib or bin and build script compile and run")
			out, file := binary(t, p, st, "links_user-")
			require.Equal(t, "hello from links metadata, 42\n", p.run(out, file))
			require.Len(t, st.Warnings, 2, "%q", st.Warnings)
			require.Equal(t, "warning: greeting-sys: a build script's warning", st.Warnings[0])
			require.Contains(t, st.Warnings[1], "unused variable: `unused_greeting`")
			require.Contains(t, st.Warnings[1], "src/main.rs:3:9")
		})
	}
}
