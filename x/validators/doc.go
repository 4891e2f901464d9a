// Package validators owns the registry of build validators: accounts that rebuild assigned
// derivations and report the output (SPEC §3). Not the CometBFT authorities of x/staking.
// This is the skeleton: params, genesis and the params query; registration, bonding and
// jailing come in a later issue.
package validators
