// Package simulation generates random market genesis states, proposals and the random
// commits, reveals and evidence of SDK simulations.
package simulation
