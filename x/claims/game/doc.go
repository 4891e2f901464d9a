// Package game owns the pure decision logic of the claims game of VISION.md
// §Validation and SPEC §3: after a round's report, does the claim need another
// round, become VALID, or go to a market (DISPUTED)? It holds no state and uses
// no floats, so every node decides the same from the same block randomness.
package game
