package rusttoolchain_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
	"github.com/buildchain/buildchain/node/toolchain/debian/debiantest"
	"github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
	"github.com/buildchain/buildchain/node/toolchain/rusttoolchain"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// debs skips unless opted in (make test-cargo) and `make deps` filled the .deb cache.
func debs(t *testing.T) string {
	t.Helper()
	if os.Getenv("BUILDCHAIN_TEST_CARGO") == "" {
		t.Skip("slow (imports the rust toolchain twice): make test-cargo")
	}
	return debiantest.Debs(t, rusttoolchain.Rust, gcctoolchain.GCC)
}

// helloDrv compiles a Rust program with the rust toolchain, linked by the gcc toolchain's cc,
// and runs it.
const helloDrv = `{"name":"hello-rust","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh",
	"args":["-c","set -e; export PATH=/ipfs/store/@bootstrap@/bin; printf '%s\\n' \"$src\" > hello.rs; mkdir -p $out/bin; /ipfs/store/@rust@/usr/bin/rustc -C opt-level=2 -C linker=/ipfs/store/@gcc@/bin/cc -o $out/bin/hello hello.rs; $out/bin/hello > $out/said"],
	"env":{"src":"fn main() { let v: Vec<u32> = (1..=10).collect(); println!(\"hello from Rust {}\", v.iter().sum::<u32>()); }"},
	"inputs":["@bootstrap@","@gcc@","@rust@"],"outputs":["out"]}`

// The rust toolchain imported into two fresh stores from two source paths has one CID; its
// rustc compiles and (through the gcc toolchain's cc) links a program in the sandbox, which
// runs and is byte-identical from both stores.
func TestRustToolchain(t *testing.T) {
	src := debs(t)
	e1 := debiantest.New(t, false)
	rust1 := e1.Import("rust", src)
	gcc := e1.Import("gcc", src)
	e2 := debiantest.New(t, false)
	rust2 := e2.Import("rust", debiantest.CopyDebs(t, src))
	require.Equal(t, rust1, rust2, "same .debs, other source path and store: same toolchain CID")
	// The gcc toolchain's own test shows its import is the same everywhere: copy it.
	e1.CopyTo(e2, "gcc", gcc)

	r1, err := e1.Build(helloDrv, nil)
	require.NoError(t, err, e1.Log.String())
	r2, err := e2.Build(helloDrv, nil)
	require.NoError(t, err, e2.Log.String())
	require.Equal(t, "hello from Rust 55\n", e2.Cat(r2.Output, "said"))
	require.Equal(t, r1.Output, r2.Output, "the same program from both stores")
	t.Logf("hello built in %s", r1.BuildTime)
}
