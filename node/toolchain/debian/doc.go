// Package toolchains holds the pinned inputs of the toolchains `buildchaind bootstrap
// --toolchain NAME` imports: debian.lock (Debian .debs pinned by name, version, size and
// sha256) and, per toolchain, which of them it is made of and how it is relocated.
//
// A Debian toolchain is made the way Nix makes its bootstrap tools: the .debs are fetched
// with apt-get download and checked against the lock, extracted without dpkg (node/deb: an
// ar + tar.xz/zst reader, /usr merged, absolute symlinks made relative) and added to the store
// as one plain input; then an unpack derivation copies that tree to its output and runs the
// pinned patchelf (through the tree's own ld.so, with --library-path) on every ELF executable,
// so the interpreter and rpath point into the output itself. The output thus refers to its own
// store path, which the store hashes modulo self-references (node/storefs), so the CID does not
// depend on where, or on which machine, the toolchain was made.
package debian
