// Package econ is the economic simulation of buildchain's incentives
// (issue 6): many claims played through the validation game with honest,
// slow-reporting, lazy and lying validators and honest, nondeterministic and
// lying publishers, using the chain's own deterministic rules
// (x/validators/assign, x/claims/game, x/market/tally, x/bct/economics), to
// show that building honestly is the best-paid strategy per unit of work and
// that every lie that reaches a market is slashed. The test prints the table.
// attack_test.go asserts the attack figures of x/claims/README.md §Parameters (fake-claim
// acceptance against the analytical bound, a lying publisher's profit curve, builds per claim,
// honest income above lazy and colluding builders), measured with the chain's own draw and coin,
// against the exact analysis of x/claims/curve (which also asserts that the default game is the
// cheapest safe point of the curve). decoy_test.go measures decoy assignments
// (config.DecoyPermille), which are not on chain.
package econ
