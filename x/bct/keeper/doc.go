// Package keeper holds the bct module state (collections), its Msg and Query services, the
// period EndBlocker, build-time accounting, slash distribution, x/claims hooks and invariants.
package keeper
