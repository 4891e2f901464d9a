// Package deb reads Debian packages without dpkg, for toolchains pinned in a lock file: the
// lock format (name, version, arch, size, sha256 per .deb), a cache directory of verified
// .debs filled with `apt-get download`, and extraction of a .deb's data.tar (xz, zstd, gzip or
// plain, inside the ar archive) into a merged-/usr tree whose absolute symlinks are made
// relative. Maintainer scripts are never run. A .deb that does not match its lock line is
// ErrChecksum, one that ends early ErrTruncated, anything else malformed ErrFormat.
package deb
