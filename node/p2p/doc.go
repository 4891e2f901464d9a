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
// Speed (bench/p2p, 2026-12-04, load average 14-18 on the 2 shared cores,
// best of 2; node/p2p/NOTES.md has the details): one 128 MiB file by
// closure stream 0.32-0.44 of a plain copy + fsync (goal 0.5: not met),
// 2,000 files of 4 KiB 2.3-2.4 (met), the Go toolchain (11,518 files, 215
// MB) from one peer 1.40-1.41x the time of cp -r + sync (goal <= 2: met),
// and a 4 GiB closure with a peak RSS of 161 MiB for the fetcher and its
// server together (goal < 512 MiB). The large file is bound by CPU: the
// same bytes over a bare libp2p stream (no store, no hashing) cost about 1
// CPU-s/GiB for both ends and ran at 2.8-5.1x the copy, while the fetch
// costs 5.6-6.3 CPU-s/GiB (the block files' write(2) and creation, two
// sha256 passes, TLS both ways) against the copy's 1.0-1.4, and the process
// got about half a core of the loaded machine.
package p2p
