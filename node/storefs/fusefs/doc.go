// Package fusefs owns the read-only FUSE view of a storefs.Store:
// {mount}/{cid}/{path} reads any UnixFS file, directory or symlink. Every
// block is hash-checked before its bytes are returned (a corrupted or
// missing block gives EIO, never wrong bytes), self-references are written
// back as the root CID, and since content is immutable the kernel is told
// to cache entries, attributes and pages for long.
package fusefs
