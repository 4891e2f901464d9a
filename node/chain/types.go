package chain

import (
	cid "github.com/ipfs/go-cid"
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
	// RoundOpen: assigned to us, no commit from us yet, still committable
	// (x/claims/README.md §Blind rounds).
	RoundOpen RoundState = iota
	// RoundReported: our result for this round is on chain (revealed and judged).
	RoundReported
	// RoundGone: not ours any more (timed out and reassigned, claim finished or
	// unknown).
	RoundGone
	// RoundCommitted: our commit is on chain; the claim's reveals have not opened.
	RoundCommitted
	// RoundRevealable: our commit is on chain and the claim is REVEALING: reveal now.
	RoundRevealable
)

func (r RoundState) String() string {
	switch r {
	case RoundOpen:
		return "open"
	case RoundReported:
		return "reported"
	case RoundGone:
		return "gone"
	case RoundCommitted:
		return "committed"
	case RoundRevealable:
		return "revealable"
	}
	return "unknown"
}

// MarketOpened is a market the chain opened on a disputed claim.
type MarketOpened struct {
	MarketID  uint64
	ClaimID   uint64
	Claimed   string // the publisher's output
	Reported  string // the dissenting report's output
	CommitEnd int64  // last height for commits
	RevealEnd int64  // last height for reveals
}

// PredictionState is what the chain holds of our prediction in a market.
type PredictionState struct {
	Committed bool // a commit of ours is on chain
	Revealed  bool // and it was revealed
}
