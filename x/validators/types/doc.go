// Package types holds the validators module's messages, params, genesis, store keys and errors.
package types
