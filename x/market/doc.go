// Package market owns the commit-reveal prediction markets opened when a validator's output differs
// from a claim's (SPEC §3). This is the skeleton: params, genesis and the params query; markets
// come in a later issue.
package market
