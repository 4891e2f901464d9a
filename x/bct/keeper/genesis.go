package keeper

import (
	"context"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/bct/types"
)

// InitGenesis validates and stores the genesis state.
func (k Keeper) InitGenesis(ctx context.Context, gs *types.GenesisState) error {
	if err := gs.Validate(); err != nil {
		return err
	}
	if err := k.Params.Set(ctx, gs.Params); err != nil {
		return errorsmod.Wrap(err, "setting params")
	}
	if err := k.Period.Set(ctx, gs.Period); err != nil {
		return errorsmod.Wrap(err, "setting period")
	}
	if err := k.Totals.Set(ctx, gs.Totals); err != nil {
		return errorsmod.Wrap(err, "setting totals")
	}
	for _, s := range gs.ValidatorStats {
		addr, err := sdk.AccAddressFromBech32(s.Address)
		if err != nil {
			return errorsmod.Wrap(types.ErrInvalidGenesis, err.Error())
		}
		if err := k.ValidatorStats.Set(ctx, addr, s); err != nil {
			return errorsmod.Wrap(err, "setting validator stats")
		}
	}
	for _, r := range gs.PeriodRecords {
		if err := k.PeriodRecords.Set(ctx, r.Number, r); err != nil {
			return errorsmod.Wrap(err, "setting period record")
		}
	}
	return nil
}

// ExportGenesis returns the module state as a genesis state.
func (k Keeper) ExportGenesis(ctx context.Context) (*types.GenesisState, error) {
	params, err := k.Params.Get(ctx)
	if err != nil {
		return nil, errorsmod.Wrap(err, "reading params")
	}
	gs := types.NewGenesisState(params)
	if gs.Period, err = k.Period.Get(ctx); err != nil {
		return nil, errorsmod.Wrap(err, "reading period")
	}
	if gs.Totals, err = k.Totals.Get(ctx); err != nil {
		return nil, errorsmod.Wrap(err, "reading totals")
	}
	if err := k.ValidatorStats.Walk(ctx, nil, func(_ sdk.AccAddress, s types.ValidatorStats) (bool, error) {
		gs.ValidatorStats = append(gs.ValidatorStats, s)
		return false, nil
	}); err != nil {
		return nil, errorsmod.Wrap(err, "reading validator stats")
	}
	if err := k.PeriodRecords.Walk(ctx, nil, func(_ uint64, r types.PeriodRecord) (bool, error) {
		gs.PeriodRecords = append(gs.PeriodRecords, r)
		return false, nil
	}); err != nil {
		return nil, errorsmod.Wrap(err, "reading period records")
	}
	return gs, nil
}
