// Package types holds the bct module's messages, params, genesis, store keys and errors.
package types
