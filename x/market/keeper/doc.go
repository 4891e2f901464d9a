// Package keeper holds the market module state (collections), its Msg and Query services,
// the x/claims hooks, the EndBlocker resolution and the invariants.
package keeper
