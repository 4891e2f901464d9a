// Package claims owns build claims (a publisher says derivation D builds to output O) and the
// validation game of rounds played by assigned build validators (SPEC §3, VISION.md).
// This is the skeleton: params, genesis and the params query; the game comes in a later issue.
package claims
