// Package simtest runs the Cosmos SDK simulator on the real buildchain app: random Msgs of the
// chosen modules, with the given invariants checked about once per block and at the end. The
// modules' simulation tests (x/claims, x/bct) share it; each then checks its own coverage.
package simtest
