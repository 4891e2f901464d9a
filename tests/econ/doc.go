// Package econ is the economic simulation of buildchain's incentives
// (issue 6): many claims played through the validation game with honest,
// slow-reporting, lazy and lying validators and honest, nondeterministic and
// lying publishers, using the chain's own deterministic rules
// (x/validators/assign, x/claims/game, x/market/tally, x/bct/economics), to
// show that building honestly is the best-paid strategy per unit of work and
// that every lie that reaches a market is slashed. The test prints the table.
package econ
