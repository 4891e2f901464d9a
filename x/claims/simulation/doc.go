// Package simulation generates random claims genesis states and proposals for SDK simulations.
package simulation
