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
	// NextMarketIDKey is the sequence of market ids (the first market is 1).
	NextMarketIDKey = collections.NewPrefix(1)
	// MarketsKey maps market id -> Market.
	MarketsKey = collections.NewPrefix(2)
	// PredictionsKey maps (market id, predictor) -> Prediction.
	PredictionsKey = collections.NewPrefix(3)
	// PredictionsByAccountKey indexes (predictor, market id).
	PredictionsByAccountKey = collections.NewPrefix(4)
	// MarketsByClaimKey indexes (claim id, market id).
	MarketsByClaimKey = collections.NewPrefix(5)
	// OpenMarketsKey indexes open markets by (reveal_end, market id), for the EndBlocker.
	OpenMarketsKey = collections.NewPrefix(6)
)
