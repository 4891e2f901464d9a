// Package testutil owns the in-memory test fixture of x/validators and x/claims keeper tests:
// both real keepers on an in-memory multistore, with a small ledger standing in for x/bank
// (it enforces balances, so a failed transfer fails the Msg exactly as x/bank would) and a
// map standing in for x/staking. End-to-end tests use the real modules on a localnet.
package testutil
