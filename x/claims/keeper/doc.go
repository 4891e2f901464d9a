// Package keeper holds the claims module state (collections) and its Msg and Query services.
package keeper
