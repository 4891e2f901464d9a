// Package keeper holds the bct module state (collections) and its Msg and Query services.
package keeper
