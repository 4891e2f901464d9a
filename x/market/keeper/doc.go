// Package keeper holds the market module state (collections) and its Msg and Query services.
package keeper
