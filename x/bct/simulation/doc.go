// Package simulation generates random bct genesis states and proposals for SDK simulations,
// and holds the 500-block simulation of all four buildchain modules with their invariants.
package simulation
