package gcctoolchain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/deb"
	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	"github.com/buildchain/buildchain/node/toolchain/debian"
	"github.com/buildchain/buildchain/node/toolchain/debian/debiantest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// tenv is a fresh store and builder with the gcc test's helpers.
type tenv struct{ *debiantest.Env }

func newTEnv(t *testing.T, fuse bool) *tenv { return &tenv{debiantest.New(t, fuse)} }

func debs(t *testing.T) string { return debiantest.Debs(t, GCC) }

func (e *tenv) importGCC(source string) cid.Cid { return e.Import("gcc", source) }

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
	gcc2 := e2.importGCC(debiantest.CopyDebs(t, src))
	require.Equal(t, gcc1, gcc2, "same .debs, other source path and store: same toolchain CID")
	t.Log(e1.Log.String())

	// Through FUSE, the relocated gcc names its own real store path.
	mnt := filepath.Join(e2.Store.MountDir(), gcc2.String())
	wrapper, err := os.ReadFile(filepath.Join(mnt, "bin", "cc"))
	require.NoError(t, err)
	require.Contains(t, string(wrapper), "exec /ipfs/store/"+gcc2.String()+"/usr/bin/x86_64-linux-gnu-gcc-12 --sysroot=/ipfs/store/"+gcc2.String())
	gccELF, err := os.ReadFile(filepath.Join(mnt, "usr", "bin", "x86_64-linux-gnu-gcc-12"))
	require.NoError(t, err)
	require.Contains(t, string(gccELF), "/ipfs/store/"+gcc2.String()+"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")

	r1, err := e1.Build(helloDrv, nil)
	require.NoError(t, err, e1.Log.String())
	r2, err := e2.Build(helloDrv, nil)
	require.NoError(t, err, e2.Log.String())
	require.Equal(t, "hello from C\nhello from C\n", e2.Cat(r2.Output, "said"))
	require.Equal(t, r1.Output, r2.Output, "the same C programs from both stores")
	// The dynamic program refers to the toolchain (its loader and libc).
	refs, err := e2.Builder.References(context.Background(), r2.Output)
	require.NoError(t, err)
	require.Contains(t, refs, gcc2)

	// examples/lua: Lua 5.4.7 at -O2, static, byte-identical from both stores; the built lua
	// runs on the host straight from the FUSE store.
	l1 := e1.buildLua()
	l2 := e2.buildLua()
	require.Equal(t, l1, l2, "Lua from two stores with different roots")
	out, err := exec.Command(filepath.Join(e2.Store.MountDir(), l2.String(), "bin", "lua"), "-e", "print(1+1)").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "2\n", string(out))
}

// buildLua adds the vendored Lua source and builds examples/lua/lua.json.
func (e *tenv) buildLua() cid.Cid {
	e.T.Helper()
	_, file, _, _ := runtime.Caller(0)
	examples := filepath.Join(filepath.Dir(file), "..", "..", "..", "examples")
	src, err := e.Store.AddPath(context.Background(), filepath.Join(examples, "lua", "src"), storefs.AddOptions{})
	require.NoError(e.T, err)
	tmpl, err := os.ReadFile(filepath.Join(examples, "lua", "lua.json"))
	require.NoError(e.T, err)
	r, err := e.Build(string(tmpl), map[string]string{"luasrc": src.String()})
	require.NoError(e.T, err, e.Log.String())
	e.T.Logf("lua built in %s", r.BuildTime)
	return r.Output
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
			dir := debiantest.CopyDebs(t, src)
			data, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), tc.damage(data), 0o644))
			before, err := e.Store.AllBlocks()
			require.NoError(t, err)
			e.TC.Source = dir
			_, err = toolchain.Import(context.Background(), "gcc", "root", e.TC)
			require.ErrorIs(t, err, deb.ErrChecksum)
			require.Contains(t, err.Error(), "make=4.3-4.1")
			require.Contains(t, err.Error(), lock["make"].SHA256)
			after, err := e.Store.AllBlocks()
			require.NoError(t, err)
			require.Equal(t, before, after, "the store is unchanged")
			_, err = e.Builder.Toolchains()
			require.NoError(t, err)
			tcs, _ := e.Builder.Toolchains()
			require.NotContains(t, tcs, "gcc")
		})
	}
}
