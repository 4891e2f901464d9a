package types

import "cosmossdk.io/collections"

const (
	// ModuleName is the name of the market module; also its store key and module account.
	ModuleName = "market"
	// StoreKey is the KV store key of the module.
	StoreKey = ModuleName
)

// Store prefixes. Each collection owns one prefix; never reuse a retired prefix, or old
// state would be decoded as the new type.
var (
	// ParamsKey holds the module Params.
	ParamsKey = collections.NewPrefix(0)
)
