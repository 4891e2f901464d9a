package types

import "cosmossdk.io/collections"

const (
	// ModuleName is the name of the validators module; also its store key and module account.
	ModuleName = "validators"
	// StoreKey is the KV store key of the module.
	StoreKey = ModuleName

	// RandomnessHistoryBlocks is how many past beacon outputs are kept for the
	// randomness query; older ones are pruned (consensus only needs the last).
	RandomnessHistoryBlocks int64 = 100_000
)

// Store prefixes. Each collection owns one prefix; never reuse a retired prefix, or old
// state would be decoded as the new type.
var (
	// ParamsKey holds the module Params.
	ParamsKey = collections.NewPrefix(0)
	// ValidatorsKey maps operator address → Validator.
	ValidatorsKey = collections.NewPrefix(1)
	// BySystemKey indexes (system, operator).
	BySystemKey = collections.NewPrefix(2)
	// UnbondingQueueKey orders (unbonding height, operator).
	UnbondingQueueKey = collections.NewPrefix(3)
	// VrfKeysKey maps consensus address → VrfKey.
	VrfKeysKey = collections.NewPrefix(4)
	// RandomnessKey maps height → Randomness (pruned to RandomnessHistoryBlocks).
	RandomnessKey = collections.NewPrefix(5)
	// LastRandomnessKey holds the newest Randomness (the VRF input of the next block).
	LastRandomnessKey = collections.NewPrefix(6)
)
