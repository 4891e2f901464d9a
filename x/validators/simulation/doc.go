// Package simulation generates random validators genesis states and proposals for SDK simulations.
package simulation
