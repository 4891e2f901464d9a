// Package app wires the buildchain application: the Cosmos SDK modules (auth, bank, staking,
// slashing, distribution, gov, consensus, upgrade, genutil) and buildchain's own x/validators,
// x/claims, x/market and x/bct. Wiring is manual (not depinject) because later work customises
// PrepareProposal/ProcessProposal for the VRF beacon.
package app
