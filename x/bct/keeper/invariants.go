package keeper

import (
	"fmt"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	"github.com/buildchain/buildchain/x/bct/types"
)

// RegisterInvariants registers the bct invariants.
func RegisterInvariants(ir sdk.InvariantRegistry, k Keeper) {
	ir.RegisterRoute(types.ModuleName, "supply-schedule", SupplyInvariant(k))
	ir.RegisterRoute(types.ModuleName, "module-account", ModuleAccountInvariant(k))
	ir.RegisterRoute(types.ModuleName, "rewardable-sum", RewardableSumInvariant(k))
}

// SupplyInvariant: within a period the supply changes only by what buildchain burns
// (minting happens only at the period end, where it is booked in the period record):
// supply == period start supply − burned this period. Other SDK modules may burn too
// (gov deposits, staking slashes of authorities), so the check is that the supply never
// exceeds that figure: no ubct is ever created except by x/bct's scheduled mint.
func SupplyInvariant(k Keeper) sdk.Invariant {
	return func(ctx sdk.Context) (string, bool) {
		p, err := k.Period.Get(ctx)
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "supply-schedule", err.Error()), true
		}
		if p.Number == 0 {
			return "", false // not started yet
		}
		supply := k.Supply(ctx)
		expected := p.StartSupply.Sub(p.Burned)
		broken := supply.GT(expected)
		return sdk.FormatInvariant(types.ModuleName, "supply-schedule",
			fmt.Sprintf("supply %s, period %d start %s − burned %s = %s", supply, p.Number, p.StartSupply, p.Burned, expected)), broken
	}
}

// ModuleAccountInvariant: the bct module account holds exactly the carried-over validator
// share (everything minted is paid out in the same block, slashes pass through it within
// one call).
func ModuleAccountInvariant(k Keeper) sdk.Invariant {
	return func(ctx sdk.Context) (string, bool) {
		p, err := k.Period.Get(ctx)
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "module-account", err.Error()), true
		}
		bal := k.bankKeeper.GetBalance(ctx, k.accountKeeper.GetModuleAddress(types.ModuleName), appparams.BondDenom).Amount
		return sdk.FormatInvariant(types.ModuleName, "module-account",
			fmt.Sprintf("module balance %s, carry %s", bal, p.Carry)), !bal.Equal(p.Carry)
	}
}

// RewardableSumInvariant: the period's total rewardable time is the validators' sum.
func RewardableSumInvariant(k Keeper) sdk.Invariant {
	return func(ctx sdk.Context) (string, bool) {
		p, err := k.Period.Get(ctx)
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "rewardable-sum", err.Error()), true
		}
		sum := p.TotalRewardable.Sub(p.TotalRewardable)
		err = k.ValidatorStats.Walk(ctx, nil, func(_ sdk.AccAddress, s types.ValidatorStats) (bool, error) {
			sum = sum.Add(s.RewardableTime)
			return false, nil
		})
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "rewardable-sum", err.Error()), true
		}
		return sdk.FormatInvariant(types.ModuleName, "rewardable-sum",
			fmt.Sprintf("period total %s, validators' sum %s", p.TotalRewardable, sum)), !sum.Equal(p.TotalRewardable)
	}
}
