package sidecar

import (
	"context"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/p2p"
)

// Assignment is a (claim, round) given to a validator, as the chain announced it.
type Assignment struct {
	ClaimID    uint64
	Round      uint32
	Validator  string // bech32 account of the build validator
	Derivation cid.Cid
	Deadline   int64 // last height at which a report is accepted (0: unknown)
}

// RoundKey names one round of one claim.
type RoundKey struct {
	ClaimID uint64
	Round   uint32
}

// RoundState is what the chain currently says about our (claim, round).
type RoundState int

const (
	// RoundOpen: assigned to us, no report from us yet, still reportable.
	RoundOpen RoundState = iota
	// RoundReported: our report for this round is on chain.
	RoundReported
	// RoundGone: not ours to report any more (timed out and reassigned,
	// claim finished or unknown).
	RoundGone
)

func (r RoundState) String() string {
	switch r {
	case RoundOpen:
		return "open"
	case RoundReported:
		return "reported"
	case RoundGone:
		return "gone"
	}
	return "unknown"
}

// Claims is the sidecar's view of x/claims: decoding its events, reading a
// round's state and sending a report. CosmosClaims implements it over the
// SDK client; tests may use a fake.
type Claims interface {
	// Validator is the account this sidecar reports as.
	Validator() string
	// Decode picks the assignments and the rounds that ended (reported,
	// timed out, claim decided) out of one height's events.
	Decode(events []abci.Event) (assigned []Assignment, ended []RoundKey, err error)
	// RoundState asks the chain (at its latest state) about our round.
	RoundState(ctx context.Context, claimID uint64, round uint32) (RoundState, error)
	// Report signs and broadcasts MsgReportBuild; it returns once the chain
	// accepted it into a block (or failed).
	Report(ctx context.Context, claimID uint64, round uint32, output cid.Cid, buildTimeMs uint64) (txHash string, err error)
}

// Builder rebuilds a derivation whose closure is in the local store.
type Builder interface {
	// Rebuild always runs the build (a validator must not report a cached
	// output it did not just reproduce) and returns the output root and the
	// time the build took in the sandbox.
	Rebuild(ctx context.Context, drv cid.Cid) (out cid.Cid, took time.Duration, err error)
}

// Network moves blocks and announces outputs; *p2p.Node implements it.
type Network interface {
	Fetch(ctx context.Context, root cid.Cid, progress func(done, total int)) error
	Provide(ctx context.Context, c cid.Cid) error
	Announce(ctx context.Context, r p2p.BuildRecord) (p2p.BuildRecord, error)
}

var _ Network = (*p2p.Node)(nil)
