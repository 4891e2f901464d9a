// Package storefs owns the local content-addressed store of docs/ARCHITECTURE.md §Store: UnixFS v1
// import with kubo-identical CIDs (boxo importer, CIDv1, raw leaves, 256 KiB
// chunks, balanced layout, kubo's HAMT sharding), one hash-checked file per
// block under blocks/, a refs index of each block's children (bbolt), the
// runtime references of store paths, the closure walker over them (Walker), pins,
// temporary pins and the garbage collector with its lock protocol, hash
// rewriting of self-references, UnixFS reading and export, and CAR import and
// export. The FUSE view lives in the fusefs subpackage and the `store` command
// tree in storecli.
//
// Layout under a store root:
//
//	blocks/{cid}                    one read-only file per block
//	tmp/                            temp names of blocks being written
//	refs.db                         refs index (IPLD links of each dag-pb block, a cache)
//	references/{cid}                runtime references of a store path (node/closure)
//	pins/lock                       GC lock: shared for adders, exclusive for GC
//	pins/per-user/{user}/{prog}/{cid}        symlink to store/{cid}
//	pins/per-user/{user}/{prog}/auto/{hash}  symlink to a user path (a GC root)
//	pins/temp/{pid}/{cid}           temporary pins of a live process
//	store/                          the FUSE mount point
//
// A new root gets chattr +T where the filesystem has it (topdir.go), so
// ext4 places blocks/ and tmp/ away from its parent's block group.
package storefs
