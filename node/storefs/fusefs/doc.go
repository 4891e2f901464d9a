// Package fusefs owns the read-only FUSE view of a storefs.Store:
// {mount}/{cid}/{path} reads any UnixFS file, directory or symlink. Every
// block is hash-checked before its bytes are returned (a corrupted or
// missing block gives EIO, never wrong bytes), self-references are written
// back as the root CID, and since content is immutable the kernel is told
// to cache entries, attributes and pages for long.
//
// Read path of a file (fusefs.go, blockcache.go): the file's internal
// nodes are decoded once into a leaf layout (offset, size, CID); a leaf is
// read only when a request touches it, with storefs.Store.ReadBlockInto
// into a recycled 260 KiB buffer of the mount's block cache (32 MiB of
// verified blocks, each read and hashed once whoever asks first; a failed
// load is never cached), and its file bytes are a slice of that buffer
// (storefs.FileLeafData: raw and dag-pb leaves alike). The kernel sends
// requests of one leaf (max_read 256 KiB), up to 32 in flight, from a 4 MiB
// readahead window; a one-leaf request goes to the kernel straight from
// the cache buffer (no copy), and a sequential read also starts background
// reads of the next 16 leaves, so leaves are hashed on both cores.
//
// Speed (node/storefs/NOTES.md §FUSE view has the figures and the
// analysis): a cold read costs about 2 sha256-equivalents of CPU per byte
// in the server (the hash, the copy out of blocks/, the write to
// /dev/fuse) and 0.6 in the reading process (the kernel's FUSE
// readahead), which bounds a cold read on 2 idle cores to about 0.75-0.85
// of single-core sha256. Warm reads never reach this package: the kernel
// caches FUSE pages in 4 KiB folios, as fast to read as a plain file cached
// in 4 KiB folios, slower than one in ext4's large folios.
package fusefs
