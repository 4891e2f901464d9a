// Package simulation generates random market genesis states and proposals for SDK simulations.
package simulation
