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
package p2p
