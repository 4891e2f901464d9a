package types

import "cosmossdk.io/collections"

const (
	// ModuleName is the name of the bct module; also its store key and module account.
	ModuleName = "bct"
	// StoreKey is the KV store key of the module.
	StoreKey = ModuleName
)

// Store prefixes. Each collection owns one prefix; never reuse a retired prefix, or old
// state would be decoded as the new type.
var (
	// ParamsKey holds the module Params.
	ParamsKey = collections.NewPrefix(0)
	// PeriodKey holds the current payment Period.
	PeriodKey = collections.NewPrefix(1)
	// ValidatorStatsKey maps validator address -> ValidatorStats.
	ValidatorStatsKey = collections.NewPrefix(2)
	// PeriodRecordsKey maps period number -> PeriodRecord of finished periods.
	PeriodRecordsKey = collections.NewPrefix(3)
	// TotalsKey holds the lifetime Totals of mint and burn.
	TotalsKey = collections.NewPrefix(4)
)
