// Package claims owns build claims (a publisher says derivation D builds to output O) and the
// validation game of x/claims/README.md: each round a randomly chosen build validator
// rebuilds D and reports; PENDING → ASSIGNED(round) → VALID | DISPUTED | EXPIRED (and
// REJECTED after a market verdict). The pure decisions live in x/claims/game; x/market
// attaches through types.ClaimsHooks and Keeper.ResolveDispute.
package claims
