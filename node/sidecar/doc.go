// Package sidecar is the build validator's daemon (`buildchaind node run`, docs/ARCHITECTURE.md §Node).
//
// It follows the chain strictly height by height (CometBFT NewBlock events over
// the websocket are only a tick; every height's events are read with
// BlockResults, so nothing is missed across reconnects and restarts), picks the
// assignments of its own validator, and for each one fetches the derivation and
// its inputs by CID over p2p, rebuilds it in the sandbox, commits to the output
// and the measured build time on chain, reveals them once the claim's reveal
// phase opens and only then announces the output (x/claims/README.md §Blind
// rounds; the chain refuses open reports).
//
// It owns: the follower (Follower), the persistent state of the node home
// (last handled height and every (claim, round) it ever took, written
// atomically, salts included, so that a restart resumes where it stopped and
// never commits or reveals twice), the bounded worker pool, Prometheus metrics and the status file
// that `buildchaind node status` prints. Chain specifics (which events are
// assignments, how a commit and a reveal are sent) sit behind the Claims interface, so the
// daemon's logic is testable without a chain; the real implementation over
// the Cosmos SDK client is node/chain. Building and fetching sit behind the
// Builder and Network interfaces, which node/runtime implements over the
// node's store, builder and p2p host (runtime.NewSidecar wires it).
package sidecar
