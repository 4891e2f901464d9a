package keeper

import (
	"fmt"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/validators/types"
)

// RegisterInvariants registers the module's invariants.
func RegisterInvariants(ir sdk.InvariantRegistry, k Keeper) {
	ir.RegisterRoute(types.ModuleName, "bonded-balance", BondedBalanceInvariant(k))
}

// BondedBalanceInvariant checks that the module account holds exactly the sum of all bonds:
// no bond is created or lost outside of register/update/slash/unbond.
func BondedBalanceInvariant(k Keeper) sdk.Invariant {
	return func(ctx sdk.Context) (string, bool) {
		bonded, err := k.TotalBonded(ctx)
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "bonded-balance", err.Error()), true
		}
		params, err := k.Params.Get(ctx)
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "bonded-balance", err.Error()), true
		}
		denom := params.MinBond.Denom
		held := k.bank.GetBalance(ctx, k.ModuleAddress(), denom)
		want := bonded.AmountOf(denom)
		broken := !held.Amount.Equal(want)
		return sdk.FormatInvariant(types.ModuleName, "bonded-balance",
			fmt.Sprintf("module account holds %s, bonds sum to %s%s", held, want, denom)), broken
	}
}
