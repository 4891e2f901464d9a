package keeper

import (
	"context"

	errorsmod "cosmossdk.io/errors"

	"github.com/buildchain/buildchain/x/claims/types"
)

// InitGenesis validates and stores the genesis state.
func (k Keeper) InitGenesis(ctx context.Context, gs *types.GenesisState) error {
	if err := gs.Validate(); err != nil {
		return err
	}
	if err := k.Params.Set(ctx, gs.Params); err != nil {
		return errorsmod.Wrap(err, "setting params")
	}
	return nil
}

// ExportGenesis returns the module state as a genesis state.
func (k Keeper) ExportGenesis(ctx context.Context) (*types.GenesisState, error) {
	params, err := k.Params.Get(ctx)
	if err != nil {
		return nil, errorsmod.Wrap(err, "reading params")
	}
	return types.NewGenesisState(params), nil
}
