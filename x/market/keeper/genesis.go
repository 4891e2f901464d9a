package keeper

import (
	"context"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/market/types"
)

// InitGenesis validates and stores the genesis state.
func (k Keeper) InitGenesis(ctx context.Context, gs *types.GenesisState) error {
	if err := gs.Validate(); err != nil {
		return err
	}
	if err := k.Params.Set(ctx, gs.Params); err != nil {
		return errorsmod.Wrap(err, "setting params")
	}
	if err := k.NextMarketID.Set(ctx, gs.NextMarketId); err != nil {
		return errorsmod.Wrap(err, "setting next market id")
	}
	for _, m := range gs.Markets {
		if err := k.setNewMarket(ctx, m); err != nil {
			return err
		}
	}
	for _, p := range gs.Predictions {
		addr, err := sdk.AccAddressFromBech32(p.Predictor)
		if err != nil {
			return errorsmod.Wrap(types.ErrInvalidGenesis, err.Error())
		}
		if err := k.Predictions.Set(ctx, collections.Join(p.MarketId, addr), p); err != nil {
			return errorsmod.Wrap(err, "setting prediction")
		}
		if err := k.ByAccount.Set(ctx, collections.Join(addr, p.MarketId)); err != nil {
			return errorsmod.Wrap(err, "indexing prediction")
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
	if gs.NextMarketId, err = k.NextMarketID.Peek(ctx); err != nil {
		return nil, errorsmod.Wrap(err, "reading next market id")
	}
	if gs.NextMarketId == 0 {
		gs.NextMarketId = 1
	}
	if err := k.Markets.Walk(ctx, nil, func(_ uint64, m types.Market) (bool, error) {
		gs.Markets = append(gs.Markets, m)
		return false, nil
	}); err != nil {
		return nil, errorsmod.Wrap(err, "reading markets")
	}
	if err := k.Predictions.Walk(ctx, nil, func(_ collections.Pair[uint64, sdk.AccAddress], p types.Prediction) (bool, error) {
		gs.Predictions = append(gs.Predictions, p)
		return false, nil
	}); err != nil {
		return nil, errorsmod.Wrap(err, "reading predictions")
	}
	return gs, nil
}
