// Package carstream is buildchain's fast path for moving whole closures
// between buildchain nodes: one libp2p stream per request, whose response is
// the closure streamed as a CARv1 (the body format of the IPFS
// trustless-gateway protocol, application/vnd.ipld.car with DFS order and no
// duplicates), verified block by block as it arrives.
//
// Bitswap (node/p2p) stays the interoperable path and the fallback: this
// protocol only speeds up transfers between our own nodes, where a block
// per round trip and per-block want lists cost more than the disk.
//
// # Protocol /buildchain/car/1
//
// The client writes one request, a JSON object on one line
// ({"root": CID, "part": k, "parts": n}), and closes its write side. The
// server answers one status byte: StatusOK followed by a CARv1 whose header
// names the root, or StatusNotFound / StatusError followed by a short
// message. The server walks the closure depth-first in link order (every
// block after the block that links to it). Part k of n: a block's raw
// (data) children belong to the part their multihash digest's last byte
// modulo n names; a block with many (splitSubtrees) children that are not
// raw (a directory of many files) hands each such child's whole subtree to
// one part the same way; everything else (the root, the internal nodes of a
// file) is sent by every part. n peers asked for the n parts of one root
// thus send and read each file's data once between them, each stream still
// verifiable on its own. Blocks the server does not hold are skipped: the
// client notices the gap and fetches it elsewhere. A block that fails its
// hash on the server is never sent: the stream ends (truncated) instead.
//
// The closure is what the blocks' bytes name (node/p2p passes IPLD links
// and derivation inputs), never what one node recorded about a block, such
// as a store path's runtime references: the client could not check those.
//
// # Verification
//
// The client accepts a block only if its CID is the root or was linked by
// a block already accepted on the same stream, and only if its bytes hash
// to that CID (boxo's verifcid allowlist: no weak hashes). Any other block
// ends the stream with an error wrapping block.ErrCorrupt or ErrUnexpectedBlock
// that names the peer; nothing from such a block reaches the caller.
package carstream
