// Package params holds the chain-wide constants (address prefix, denominations) that the app
// and the x/ modules share. It imports nothing of the app so modules may depend on it.
package params
