package keeper

import (
	"fmt"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	"github.com/buildchain/buildchain/x/market/types"
)

// RegisterInvariants registers the market invariants.
func RegisterInvariants(ir sdk.InvariantRegistry, k Keeper, ak types.AccountKeeper) {
	ir.RegisterRoute(types.ModuleName, "locked-stakes", LockedStakesInvariant(k, ak))
}

// LockedStakesInvariant: the market module account holds exactly the stakes of the open
// markets' predictions, and each open market's total_stake is the sum of its predictions.
func LockedStakesInvariant(k Keeper, ak types.AccountKeeper) sdk.Invariant {
	return func(ctx sdk.Context) (string, bool) {
		locked := sdkmath.ZeroInt()
		var msg string
		broken := false
		err := k.Markets.Walk(ctx, nil, func(id uint64, m types.Market) (bool, error) {
			if m.Status != types.MARKET_STATUS_OPEN {
				return false, nil
			}
			preds, err := k.MarketPredictions(ctx, id)
			if err != nil {
				return true, err
			}
			sum := sdkmath.ZeroInt()
			for _, p := range preds {
				sum = sum.Add(p.Stake)
			}
			if !sum.Equal(m.TotalStake) {
				broken = true
				msg += fmt.Sprintf("market %d: total_stake %s, predictions %s\n", id, m.TotalStake, sum)
			}
			locked = locked.Add(sum)
			return false, nil
		})
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "locked-stakes", err.Error()), true
		}
		bal := k.bankKeeper.GetBalance(ctx, ak.GetModuleAddress(types.ModuleName), appparams.BondDenom).Amount
		if !bal.Equal(locked) {
			broken = true
		}
		msg += fmt.Sprintf("module balance %s, locked stakes %s", bal, locked)
		return sdk.FormatInvariant(types.ModuleName, "locked-stakes", msg), broken
	}
}
