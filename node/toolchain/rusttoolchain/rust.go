// Package rusttoolchain is the `rust` toolchain of `buildchaind bootstrap --toolchain rust`:
// Debian 12's rustc 1.63 with its standard library (libstd-rust-dev) and what rustc loads
// (LLVM 14 and its libraries), from .debs pinned in node/toolchain/debian/debian.lock and
// relocated like the gcc toolchain (node/toolchain/debian).
//
// rustc finds its sysroot (usr/lib/rustlib) from its own path, so /ipfs/store/{rust}/usr/bin/rustc
// compiles with the standard library of the same store path. It links through a C compiler:
// builds pass -C linker=/ipfs/store/{gcc}/bin/cc, the gcc toolchain's wrapper, which gives the
// program the gcc toolchain's loader and libc (node/cargobuild does). Cargo is not part of the
// toolchain: `buildchaind cargo build` runs a cargo on the host only to get the build plan,
// and every rustc call and build script runs in the sandbox with this toolchain.
package rusttoolchain

import (
	"github.com/buildchain/buildchain/node/toolchain/debian"
)

func init() {
	Rust.Register("Debian 12's rustc 1.63 and Rust standard library from .debs pinned in debian.lock, relocated with patchelf; links with the gcc toolchain's cc; --source: a directory of the .debs")
}

// Rust is rustc 1.63 for x86_64-linux: bin/rustc (usr/bin, merged /usr), the standard library
// for x86_64-unknown-linux-gnu in usr/lib/rustlib, and the shared libraries rustc and its
// proc macros load (librustc_driver, libstd, libLLVM-14 and their needs) in usr/lib/x86_64-linux-gnu.
var Rust = debian.Debian{
	Name: "rust",
	Packages: []string{
		"gcc-12-base", "libbsd0", "libc6", "libedit2", "libffi8", "libgcc-s1", "libicu72", "libllvm14",
		"liblzma5", "libmd0", "libstd-rust-1.63", "libstd-rust-dev", "libstdc++6", "libtinfo6",
		"libxml2", "libz3-4", "rustc", "zlib1g",
	},
	Interpreter: debian.Amd64Interpreter,
	LibPath:     debian.Amd64LibPath(),
	// Only rustc is run: glibc's helper programs stay, documentation goes.
	Trim: debian.DocTrim(),
	Post: llvmRunpath,
}

// llvmRunpath points libLLVM's own search path into the tree: Debian gives it the RUNPATH
// $ORIGIN/../lib, and a library with a RUNPATH finds its dependencies (libffi, libz3, ...) only
// there, never through rustc's RPATH. Run after relocation, with its variables.
const llvmRunpath = `"$raw/$INTERPRETER" --library-path "$rawlib" "$raw/usr/bin/patchelf" \
	--set-rpath "$rpath" "$out/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1"
`
