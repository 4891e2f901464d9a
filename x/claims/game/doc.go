// Package game owns the pure decision logic of the claims game of
// x/claims/README.md: after a round's report, does the claim need another
// round, become VALID, or go to a market (DISPUTED)? It holds no state and uses
// no floats, so every node decides the same from the same block randomness.
package game
