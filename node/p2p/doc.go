// Package p2p owns buildchain's libp2p network layer: one host per node with a
// persistent Ed25519 identity, a Kademlia DHT under our own protocol prefix
// (/buildchain) holding provider records for the roots a node holds, mDNS
// discovery of local peers, bitswap (boxo) serving and fetching blocks from a
// caller-supplied blockstore, whole-closure fetches (closure streams from
// buildchain peers, see carstream, split across up to three peers, with
// bitswap completing what they did not bring and serving IPFS peers), and the
// gossipsub topic /buildchain/builds/1 carrying signed build records.
//
// It does not own the block store itself (node/storefs does) nor what a build
// record means on chain (x/claims does): it moves bytes and signed claims,
// and checks that every byte it stores hashes to the CID it was asked for. A
// peer that sends a bad block on either path is disconnected, refused for an
// hour and named in the fetch's error (badpeer.go).
//
// A received block is hashed once on the fetcher: block.Check as it arrives
// (carstream's verifier pool, or walkOne for bitswap) makes a block.Checked,
// which storefs writes without hashing it again (NewVerifiedBatch for
// closure streams, PutMany for bitswap). The server hashes what it reads
// from its own store, so a block crosses two sha256 passes in all.
//
// Both paths keep memory bounded whatever the closure's size. Closure
// streams read and write blocks through pooled buffers (no heap allocation
// per block) and at most 64 MiB of verified blocks wait for the writer;
// bitswap counts a block against its want window until it is stored, and
// the window holds about 32 MiB of blocks.
//
// Speed (bench/p2p, 2026-12-04, quiet machine; node/p2p/NOTES.md has the
// details and why every figure swings 3-10x between runs on this VM): one
// 128 MiB file by closure stream 0.1-0.8 of a plain copy + fsync (goal 0.5;
// bench/p2p prints the floor of any verified fetch, the bare libp2p stream,
// two sha256 passes and the copy's write over both cores, and that floor
// allows only 0.47-0.53 whenever the copy is fast), 1 GiB 0.56-0.87 and 4
// GiB 0.985, 2,000 files of 4 KiB 0.7-3.5 (met), the Go toolchain (11,518
// files, 215 MB) from one peer 0.95-1.54x the time of cp -r + sync (goal <=
// 2: met), and a 4 GiB closure with a peak RSS of 222 MiB for the fetcher
// and its server together (goal < 512 MiB).
package p2p
