// Package assign owns the deterministic choice of a build validator for one
// round of a claim: weight ∝ bond (optionally ÷ efficiency), driven by the
// block's VRF randomness. It is pure (no store, no clock, no floats) so every
// node computes the same answer and the statistics can be tested directly.
package assign
