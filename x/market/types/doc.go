// Package types holds the market module's messages, params, genesis, store keys and errors.
package types
