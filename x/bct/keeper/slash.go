package keeper

import (
	"context"

	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/bct/economics"
	"github.com/buildchain/buildchain/x/bct/types"
)

// Slash kinds of EventSlashed.
const (
	SlashKindPublisherDeposit = "publisher_deposit"
	SlashKindValidatorBond    = "validator_bond"
)

// SlashFractionValidator is the fraction of bond a validator named a liar loses.
func (k Keeper) SlashFractionValidator(ctx context.Context) (sdkmath.LegacyDec, error) {
	p, err := k.Params.Get(ctx)
	if err != nil {
		return sdkmath.LegacyDec{}, errorsmod.Wrap(err, "reading params")
	}
	return p.SlashFractionValidator, nil
}

// Burn destroys amt ubct held by fromModule and books it as burned in the current period.
// Every burn of buildchain's modules goes through here so that the supply invariant can
// account for it.
func (k Keeper) Burn(ctx context.Context, fromModule string, amt sdkmath.Int) error {
	if amt.IsNil() || amt.IsNegative() {
		return errorsmod.Wrapf(types.ErrInvalidAmount, "burn of %v", amt)
	}
	if amt.IsZero() {
		return nil
	}
	if fromModule != types.ModuleName {
		if err := k.bankKeeper.SendCoinsFromModuleToModule(ctx, fromModule, types.ModuleName, coins(amt)); err != nil {
			return errorsmod.Wrapf(err, "moving %s from %s to burn", amt, fromModule)
		}
	}
	if err := k.bankKeeper.BurnCoins(ctx, types.ModuleName, coins(amt)); err != nil {
		return errorsmod.Wrapf(err, "burning %s", amt)
	}
	period, err := k.Period.Get(ctx)
	if err != nil {
		return errorsmod.Wrap(err, "reading period")
	}
	period.Burned = period.Burned.Add(amt)
	if err := k.Period.Set(ctx, period); err != nil {
		return errorsmod.Wrap(err, "storing period")
	}
	totals, err := k.Totals.Get(ctx)
	if err != nil {
		return errorsmod.Wrap(err, "reading totals")
	}
	totals.Burned = totals.Burned.Add(amt)
	return k.Totals.Set(ctx, totals)
}

// PayDevFund moves amt from a module account to the development fund (e.g. market fees).
func (k Keeper) PayDevFund(ctx context.Context, fromModule string, amt sdkmath.Int) error {
	if amt.IsNil() || amt.IsNegative() {
		return errorsmod.Wrapf(types.ErrInvalidAmount, "dev fund payment of %v", amt)
	}
	if amt.IsZero() {
		return nil
	}
	addr, err := k.DevFundAddress(ctx)
	if err != nil {
		return err
	}
	return k.bankKeeper.SendCoinsFromModuleToAccount(ctx, fromModule, addr, coins(amt))
}

// NoteSlash records that offender lost amount (already moved by the module that held it)
// and emits EventSlashed; a validator's lifetime slashed total is kept in its stats.
func (k Keeper) NoteSlash(ctx context.Context, offender sdk.AccAddress, kind string, claimID uint64, amount sdkmath.Int) error {
	if kind == SlashKindValidatorBond {
		s, err := k.stats(ctx, offender)
		if err != nil {
			return err
		}
		s.TotalSlashed = s.TotalSlashed.Add(amount)
		if err := k.ValidatorStats.Set(ctx, offender, s); err != nil {
			return errorsmod.Wrapf(err, "storing stats of %s", offender)
		}
	}
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventSlashed{
		Offender: offender.String(), Kind: kind, ClaimId: claimID, Amount: amount,
	})
}

// DistributeSlash shares out total ubct slashed for one verdict, held by fromModule (docs/ARCHITECTURE.md §Economics):
// half to the exposers in equal parts, the rest burned (economics.SplitSlash: the odd ubct
// and the remainder of the equal split are burned; with no exposer all of it is burned).
func (k Keeper) DistributeSlash(ctx context.Context, claimID uint64, fromModule string, total sdkmath.Int, exposers []sdk.AccAddress) (economics.SlashSplit, error) {
	split, err := economics.SplitSlash(total, len(exposers))
	if err != nil {
		return split, errorsmod.Wrap(types.ErrInvalidAmount, err.Error())
	}
	names := make([]string, len(exposers))
	for i, e := range exposers {
		names[i] = e.String()
		if split.Exposers[i].IsPositive() {
			if err := k.bankKeeper.SendCoinsFromModuleToAccount(ctx, fromModule, e, coins(split.Exposers[i])); err != nil {
				return split, errorsmod.Wrapf(err, "paying exposer %s", e)
			}
		}
	}
	if err := k.Burn(ctx, fromModule, split.Burned); err != nil {
		return split, err
	}
	per := sdkmath.ZeroInt()
	if len(exposers) > 0 {
		per = split.Exposers[0]
	}
	return split, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventSlashDistributed{
		ClaimId: claimID, Total: total, Exposers: names, PerExposer: per, Burned: split.Burned,
	})
}
