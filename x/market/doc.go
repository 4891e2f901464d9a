// Package market owns the commit-reveal prediction markets opened when a validator's output
// differs from a claim's (docs/ARCHITECTURE.md §Economics). x/claims' AfterClaimDisputed hook opens a market holding
// both outputs; anyone commits sha256(outcome ‖ len(salt) ‖ salt ‖ sender) with a stake until
// commit_end, reveals until reveal_end, and may attach evidence (diff report CIDs). In the
// EndBlocker of reveal_end the market resolves by stake-weighted plurality of revealed stake
// (below quorum or tied: NON_DETERMINISM with an extra round), pays the winners the losers'
// and non-revealers' stakes pro rata minus the market fee, hands the verdict back to
// x/claims, and has the liars it names slashed through x/validators, x/claims and x/bct.
// The pure rules live in x/market/tally.
package market
