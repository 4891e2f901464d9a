// Package validators owns the registry of build validators (docs/ARCHITECTURE.md §Chain): accounts that bond BCT,
// rebuild the derivations they are assigned and report the output — not the CometBFT
// authorities of x/staking. It also owns the chain's randomness: the per-block VRF beacon
// (x/validators/proposal) proven by each block's proposer with its registered VRF key and
// carried as the block's first transaction, a standard SDK tx holding one MsgBeacon that no
// account can send (keeper/beacon.go), and the bond-weighted assignment draw
// (x/validators/assign) x/claims uses for every round.
// Bonds live in the module account; missed deadlines slash and, past
// max_missed_assignments, jail; unbonding returns the bond after unbonding_blocks.
package validators
