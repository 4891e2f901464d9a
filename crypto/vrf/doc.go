// Package vrf owns buildchain's verifiable random function: RFC 9381
// ECVRF-EDWARDS25519-SHA512-ELL2 (suite string 0x04) on top of the maintained
// github.com/oasisprotocol/curve25519-voi implementation, plus the key file a
// node keeps in its home directory.
//
// The chain uses it for the per-block randomness beacon: the block proposer
// proves VRF(sk, prev_randomness || height) and every other node verifies the
// proof against the proposer's registered public key, so no single party can
// choose the randomness that assigns build validators to claims.
//
// Why ELL2 and not TAI: RFC 9381 defines both Edwards25519 suites; the only
// maintained Go implementation we depend on (curve25519-voi) implements ELL2,
// which is also the suite the RFC recommends for new applications because its
// hash-to-curve runs in constant time. The RFC's Appendix B.4 vectors
// (Examples 19-21) pin it in vrf_test.go.
package vrf
