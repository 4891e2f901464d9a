// Package simtest runs the Cosmos SDK simulator on the real buildchain app: random Msgs of the
// chosen modules, with the given invariants checked about once per block and at the end. The
// modules' simulation tests (x/claims, x/bct) share it (Run); each then checks its own coverage.
//
// RunWith runs it with a chosen builder population and game: Population registers the first
// accounts as equally bonded build validators of a Kind (honest, colluding, lazy) at genesis,
// with the chain's default params; Play plays blind claims (some fake) through signed txs, at a
// steady pace per block (Options.PerBlock), with truthful or colluding market predictions.
// attack_test.go asserts the attack figures of x/claims/README.md §Parameters on it: fake-claim
// acceptance against x/claims/curve, lazy builders accepting none, rounds per claim, and honest
// income per build-ms above the attackers'.
package simtest
