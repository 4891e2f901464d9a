// Package types holds the claims module's messages, params, genesis, store keys and errors.
package types
