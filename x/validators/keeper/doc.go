// Package keeper holds the validators module state (collections) and its Msg and Query services.
package keeper
