package types

import (
	"fmt"

	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// NewGenesisState returns a genesis state with the given params and a fresh period.
func NewGenesisState(params Params) *GenesisState {
	return &GenesisState{Params: params, Period: NewPeriod(0, 0, sdkmath.ZeroInt(), sdkmath.ZeroInt()),
		Totals: Totals{Minted: sdkmath.ZeroInt(), Burned: sdkmath.ZeroInt()}}
}

// NewPeriod returns a period with nothing accrued yet.
func NewPeriod(number uint64, start int64, startSupply, carry sdkmath.Int) Period {
	return Period{Number: number, StartHeight: start, StartSupply: startSupply, Burned: sdkmath.ZeroInt(),
		TotalRewardable: sdkmath.LegacyZeroDec(), Carry: carry}
}

// NewValidatorStats returns the stats of a validator without history: efficiency 1.
func NewValidatorStats(addr string) ValidatorStats {
	return ValidatorStats{Address: addr, RewardableTime: sdkmath.LegacyZeroDec(), Efficiency: sdkmath.LegacyOneDec(),
		TotalRewards: sdkmath.ZeroInt(), TotalSlashed: sdkmath.ZeroInt()}
}

// DefaultGenesis returns the default genesis state of the module.
func DefaultGenesis() *GenesisState {
	return NewGenesisState(DefaultParams())
}

func nonNegInt(name string, x sdkmath.Int) error {
	if x.IsNil() || x.IsNegative() {
		return fmt.Errorf("%s must be a non-negative integer, got %v", name, x)
	}
	return nil
}

func nonNegDec(name string, x sdkmath.LegacyDec) error {
	if x.IsNil() || x.IsNegative() {
		return fmt.Errorf("%s must be non-negative, got %v", name, x)
	}
	return nil
}

// Validate checks the genesis state; InitGenesis refuses a state that fails it.
func (gs GenesisState) Validate() error {
	wrap := func(err error) error { return errorsmod.Wrap(ErrInvalidGenesis, err.Error()) }
	if err := gs.Params.Validate(); err != nil {
		return wrap(err)
	}
	p := gs.Period
	for _, e := range []error{
		nonNegInt("period.start_supply", p.StartSupply), nonNegInt("period.burned", p.Burned),
		nonNegInt("period.carry", p.Carry), nonNegDec("period.total_rewardable", p.TotalRewardable),
		nonNegInt("totals.minted", gs.Totals.Minted), nonNegInt("totals.burned", gs.Totals.Burned),
	} {
		if e != nil {
			return wrap(e)
		}
	}
	if p.StartHeight < 0 {
		return wrap(fmt.Errorf("period.start_height %d is negative", p.StartHeight))
	}
	seen := map[string]bool{}
	sum := sdkmath.LegacyZeroDec()
	for _, s := range gs.ValidatorStats {
		if _, err := sdk.AccAddressFromBech32(s.Address); err != nil {
			return wrap(fmt.Errorf("validator stats address %q: %w", s.Address, err))
		}
		if seen[s.Address] {
			return wrap(fmt.Errorf("duplicate validator stats for %s", s.Address))
		}
		seen[s.Address] = true
		if s.Efficiency.IsNil() || !s.Efficiency.IsPositive() {
			return wrap(fmt.Errorf("efficiency of %s must be positive", s.Address))
		}
		for _, e := range []error{nonNegDec("rewardable_time", s.RewardableTime), nonNegInt("total_rewards", s.TotalRewards), nonNegInt("total_slashed", s.TotalSlashed)} {
			if e != nil {
				return wrap(fmt.Errorf("%s: %w", s.Address, e))
			}
		}
		sum = sum.Add(s.RewardableTime)
	}
	if !sum.Equal(p.TotalRewardable) {
		return wrap(fmt.Errorf("period.total_rewardable %s differs from the validators' sum %s", p.TotalRewardable, sum))
	}
	nums := map[uint64]bool{}
	for _, r := range gs.PeriodRecords {
		if nums[r.Number] || r.Number == 0 {
			return wrap(fmt.Errorf("period record number %d is zero or repeated", r.Number))
		}
		nums[r.Number] = true
	}
	return nil
}
