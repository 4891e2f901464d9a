// Package simulation generates random bct genesis states and proposals for SDK simulations.
package simulation
