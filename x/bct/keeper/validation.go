package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/bct/economics"
	"github.com/buildchain/buildchain/x/bct/types"
)

// stats returns a validator's stats, or fresh ones (efficiency 1) if it has none.
func (k Keeper) stats(ctx context.Context, addr sdk.AccAddress) (types.ValidatorStats, error) {
	s, err := k.ValidatorStats.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return types.NewValidatorStats(addr.String()), nil
	}
	if err != nil {
		return types.ValidatorStats{}, errorsmod.Wrapf(err, "reading stats of %s", addr)
	}
	return s, nil
}

// Efficiency returns a validator's efficiency factor (1 = average, > 1 slower than average;
// 1 without history). x/validators may divide assignment weights by it (assign.Weight).
func (k Keeper) Efficiency(ctx context.Context, addr sdk.AccAddress) (sdkmath.LegacyDec, error) {
	s, err := k.stats(ctx, addr)
	if err != nil {
		return sdkmath.LegacyDec{}, err
	}
	return s.Efficiency, nil
}

// RecordValidation books one finished validation of a claim (docs/ARCHITECTURE.md §Economics): the reports' build
// times, normalized by each validator's efficiency, give u_a after clipping around the
// median; each validator adds u_a (not its own u_i) to its rewardable time of the current
// period, and its efficiency average takes the sample r_i (plain mean of the first samples,
// then a moving average: economics.EfficiencyWeight). x/claims calls it when a
// claim's game ends, with the reports of every validator not named a liar.
func (k Keeper) RecordValidation(ctx context.Context, claimID uint64, reports []types.BuildReport) error {
	if err := types.ValidateReports(reports); err != nil {
		return errorsmod.Wrapf(types.ErrInvalidReports, "claim %d: %s", claimID, err)
	}
	all := make([]types.ValidatorStats, len(reports))
	ms := make([]uint64, len(reports))
	effs := make([]sdkmath.LegacyDec, len(reports))
	for i, r := range reports {
		s, err := k.stats(ctx, r.Validator)
		if err != nil {
			return err
		}
		all[i], ms[i], effs[i] = s, r.BuildTimeMs, s.Efficiency
	}
	bt, err := economics.NormalizedAverageBuildTime(ms, effs)
	if err != nil {
		return errorsmod.Wrapf(types.ErrInvalidReports, "claim %d: %s", claimID, err)
	}
	period, err := k.Period.Get(ctx)
	if err != nil {
		return errorsmod.Wrap(err, "reading period")
	}
	names := make([]string, len(reports))
	for i, r := range reports {
		s := all[i]
		s.RewardableTime = s.RewardableTime.Add(bt.Average)
		if s.Efficiency, err = economics.UpdateEfficiency(s.Efficiency, bt.Ratios[i], economics.EfficiencyWeight(s.EfficiencySamples)); err != nil {
			return errorsmod.Wrapf(types.ErrInvalidReports, "claim %d: %s", claimID, err)
		}
		if len(reports) > 1 {
			// A lone report says nothing about speed (its sample is the factor itself).
			s.EfficiencySamples++
		}
		s.Validations++
		if err := k.ValidatorStats.Set(ctx, r.Validator, s); err != nil {
			return errorsmod.Wrapf(err, "storing stats of %s", r.Validator)
		}
		if v := *k.validators; v != nil {
			if err := v.SetEfficiency(ctx, r.Validator, s.Efficiency); err != nil {
				return errorsmod.Wrapf(err, "storing the efficiency of %s in x/validators", r.Validator)
			}
		}
		period.TotalRewardable = period.TotalRewardable.Add(bt.Average)
		names[i] = s.Address
	}
	if err := k.Period.Set(ctx, period); err != nil {
		return errorsmod.Wrap(err, "storing period")
	}
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventBuildTimeRecorded{
		ClaimId: claimID, Average: bt.Average, Validators: names,
	})
}
