package gcctoolchain

import (
	"github.com/buildchain/buildchain/node/toolchain/debian"
)

func init() {
	GCC.Register("Debian 12's gcc 12, binutils, glibc and make from .debs pinned in debian.lock, relocated with patchelf; --source: a directory of the .debs")
}

// GCC is Debian 12's gcc 12 with binutils, the glibc headers and libraries and make: a C
// toolchain for x86_64-linux. bin/cc (also bin/gcc) is a wrapper that gives gcc the sysroot
// (headers, crt files and libraries come from the toolchain, never the host), -B for as and ld,
// and, for dynamic programs, the toolchain's loader and an rpath into it. bin is usr/bin (the
// merged-/usr layout), so PATH=$gcc/bin also has make, ar, ranlib, as, ld and strip.
var GCC = debian.Debian{
	Name: "gcc",
	Packages: []string{
		"binutils", "binutils-common", "binutils-x86-64-linux-gnu", "cpp-12", "gcc-12",
		"gcc-12-base", "libbinutils", "libc6", "libc6-dev", "libcrypt-dev", "libcrypt1",
		"libctf-nobfd0", "libctf0", "libgcc-12-dev", "libgcc-s1", "libgmp10", "libisl23",
		"libjansson4", "libmpc3", "libmpfr6", "libstdc++6", "libzstd1", "linux-libc-dev", "make",
		"zlib1g",
	},
	Interpreter: debian.Amd64Interpreter,
	LibPath:     debian.Amd64LibPath(),
	// lto-dump is a debugging tool (32 MB); lto1, which -flto needs, stays.
	Trim: debian.DocTrim("usr/bin/x86_64-linux-gnu-lto-dump-12", "usr/bin/lto-dump-12"),
	Post: gccWrapper,
}

// gccWrapper writes bin/cc. gcc finds cc1 relative to the path it was started by; --sysroot
// resolves the crt files and libc's linker script (which names /lib/... inside the sysroot);
// -B finds as and ld (collect2 looks there too).
const gccWrapper = `mkdir -p "$out/bin"
printf '#!%s/bin/sh\nexec %s/usr/bin/x86_64-linux-gnu-gcc-12 --sysroot=%s -B%s/usr/bin/ -Wl,--dynamic-linker=%s/%s -Wl,-rpath,%s/usr/lib/x86_64-linux-gnu "$@"\n' \
	"$bb" "$out" "$out" "$out" "$out" "$INTERPRETER" "$out" > "$out/bin/cc"
chmod 555 "$out/bin/cc"
ln -s cc "$out/bin/gcc"
`
