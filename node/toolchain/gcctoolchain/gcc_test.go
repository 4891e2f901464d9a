package gcctoolchain

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
	"github.com/buildchain/buildchain/node/deb"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
	"github.com/buildchain/buildchain/node/toolchain"
	"github.com/buildchain/buildchain/node/toolchain/debian"
)

func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

type tenv struct {
	t   *testing.T
	env *toolchain.Env
	b   *builder.Builder
	log *bytes.Buffer
}

// newTEnv is a fresh store and builder; with fuse, inputs are bound from the store's real FUSE
// mount (as on a node), so builds read the toolchain at its real CID through FUSE.
func newTEnv(t *testing.T, fuse bool) *tenv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds run in user/mount/pid namespaces")
	}
	home := t.TempDir()
	require.NoError(t, os.Chmod(home, 0o755))
	s, err := storefs.Open(filepath.Join(home, "ipfs"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	if fuse {
		if err := fusefs.Available(); err != nil {
			t.Skip("needs FUSE: " + err.Error())
		}
		srv, err := fusefs.Mount(s, s.MountDir(), fusefs.Options{AllowOther: true})
		require.NoError(t, err)
		t.Cleanup(func() { _ = srv.Unmount() })
	}
	log := &bytes.Buffer{}
	b, err := builder.New(s, builder.Config{StateDir: filepath.Join(home, "builds"), Log: log, Timeout: 5 * time.Minute, UseFUSE: &fuse})
	require.NoError(t, err)
	return &tenv{t: t, env: &toolchain.Env{Store: s, Builder: b, Options: map[string]string{}, Log: log}, b: b, log: log}
}

// debs is the .deb cache `make deps` fills; tests never download.
func debs(t *testing.T) string {
	t.Helper()
	dir := debian.DefaultDebCache()
	lock, err := debian.DebianLock()
	require.NoError(t, err)
	for _, name := range append([]string{debian.BusyboxPackage, debian.PatchelfPackage}, GCC.Packages...) {
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

func (e *tenv) importGCC(source string) cid.Cid {
	e.t.Helper()
	e.env.Source = source
	c, err := toolchain.Import(context.Background(), "gcc", "root", e.env)
	require.NoError(e.t, err, e.log.String())
	return c
}

// build adds and builds a derivation template; @gcc@, @bootstrap@ and @system@ come from what
// was imported.
func (e *tenv) build(tmpl string, vars map[string]string) (*builder.Result, error) {
	e.t.Helper()
	all, err := e.b.TemplateVars()
	require.NoError(e.t, err)
	for k, v := range vars {
		all[k] = v
	}
	filled, err := builder.Template([]byte(tmpl), all)
	require.NoError(e.t, err)
	d, err := derivation.Parse(filled)
	require.NoError(e.t, err)
	drv, err := e.b.AddDerivation(d)
	require.NoError(e.t, err)
	return e.b.Build(context.Background(), drv, builder.Options{})
}

func (e *tenv) cat(root cid.Cid, p string) string {
	e.t.Helper()
	var buf bytes.Buffer
	require.NoError(e.t, e.env.Store.Cat(context.Background(), root, p, &buf))
	return buf.String()
}

// helloDrv compiles a C program dynamically (loader and libc from the toolchain, found through
// the wrapper's --dynamic-linker and rpath) and statically with bin/cc, and runs both.
const helloDrv = `{"name":"hello-c","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh",
	"args":["-c","set -e; export PATH=/ipfs/store/@gcc@/bin:/ipfs/store/@gcc@/usr/bin:/ipfs/store/@bootstrap@/bin; printf '%s\\n' \"$src\" > hello.c; mkdir -p $out/bin; cc -O2 -o $out/bin/hello hello.c; cc -O2 -static -o $out/bin/hello-static hello.c; $out/bin/hello > $out/said; $out/bin/hello-static >> $out/said"],
	"env":{"src":"#include <stdio.h>\nint main(void) { puts(\"hello from C\"); return 0; }"},"inputs":["@bootstrap@","@gcc@"],"outputs":["out"]}`

// The gcc toolchain imported into two fresh stores from two source paths has one CID; it
// compiles and links C programs in the sandbox, also when read through FUSE at its real CID
// (its ELF files name their loader and libraries by their own store path, written back by
// the store's self-reference rewriting), and the programs are byte-identical.
func TestGCCToolchain(t *testing.T) {
	src := debs(t)
	e1 := newTEnv(t, false)
	gcc1 := e1.importGCC(src)
	e2 := newTEnv(t, true)
	gcc2 := e2.importGCC(copyDebs(t, src))
	require.Equal(t, gcc1, gcc2, "same .debs, other source path and store: same toolchain CID")
	t.Log(e1.log.String())

	// Through FUSE, the relocated gcc names its own real store path.
	mnt := filepath.Join(e2.env.Store.MountDir(), gcc2.String())
	wrapper, err := os.ReadFile(filepath.Join(mnt, "bin", "cc"))
	require.NoError(t, err)
	require.Contains(t, string(wrapper), "exec /ipfs/store/"+gcc2.String()+"/usr/bin/x86_64-linux-gnu-gcc-12 --sysroot=/ipfs/store/"+gcc2.String())
	gccELF, err := os.ReadFile(filepath.Join(mnt, "usr", "bin", "x86_64-linux-gnu-gcc-12"))
	require.NoError(t, err)
	require.Contains(t, string(gccELF), "/ipfs/store/"+gcc2.String()+"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")

	r1, err := e1.build(helloDrv, nil)
	require.NoError(t, err, e1.log.String())
	r2, err := e2.build(helloDrv, nil)
	require.NoError(t, err, e2.log.String())
	require.Equal(t, "hello from C\nhello from C\n", e2.cat(r2.Output, "said"))
	require.Equal(t, r1.Output, r2.Output, "the same C programs from both stores")
	// The dynamic program refers to the toolchain (its loader and libc), the static one to nothing.
	refs, err := e2.b.References(context.Background(), r2.Output)
	require.NoError(t, err)
	require.Contains(t, refs, gcc2)
}

// A .deb that differs from the lock (one byte changed, or cut short) fails the import with an
// error naming the package and both checksums, before anything reaches the store.
func TestGCCBadDebs(t *testing.T) {
	src := debs(t)
	lock, err := debian.DebianLock()
	require.NoError(t, err)
	name := lock["make"].Filename()
	for _, tc := range []struct {
		name   string
		damage func(data []byte) []byte
	}{
		{"changed byte", func(d []byte) []byte { d[len(d)/2] ^= 1; return d }},
		{"truncated", func(d []byte) []byte { return d[:len(d)-1000] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTEnv(t, false)
			dir := copyDebs(t, src)
			data, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), tc.damage(data), 0o644))
			before, err := e.env.Store.AllBlocks()
			require.NoError(t, err)
			e.env.Source = dir
			_, err = toolchain.Import(context.Background(), "gcc", "root", e.env)
			require.ErrorIs(t, err, deb.ErrChecksum)
			require.Contains(t, err.Error(), "make=4.3-4.1")
			require.Contains(t, err.Error(), lock["make"].SHA256)
			after, err := e.env.Store.AllBlocks()
			require.NoError(t, err)
			require.Equal(t, before, after, "the store is unchanged")
			_, err = e.b.Toolchains()
			require.NoError(t, err)
			tcs, _ := e.b.Toolchains()
			require.NotContains(t, tcs, "gcc")
		})
	}
}
