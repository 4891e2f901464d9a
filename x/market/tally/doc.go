// Package tally holds the pure, deterministic rules of a nondeterminism
// prediction market (docs/ARCHITECTURE.md §Economics): the commit hash of a prediction, and the
// resolution of a market from its revealed predictions — stake-weighted
// plurality, quorum, ties, and the payout of winners from losers' and
// non-revealers' stakes minus the market fee, conserving every ubct.
//
// It owns no state; the x/market keeper stores commits and reveals and calls
// Resolve at reveal_end.
package tally
