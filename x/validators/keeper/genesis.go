package keeper

import (
	"context"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/validators/types"
)

// InitGenesis validates and stores the genesis state. The unbonding queue and system index
// are rebuilt from the validators; without genesis randomness the chain id seeds the beacon.
func (k Keeper) InitGenesis(ctx context.Context, gs *types.GenesisState) error {
	if err := gs.Validate(); err != nil {
		return err
	}
	if err := k.Params.Set(ctx, gs.Params); err != nil {
		return errorsmod.Wrap(err, "setting params")
	}
	for _, v := range gs.Validators {
		if err := k.setValidator(ctx, nil, v); err != nil {
			return errorsmod.Wrapf(err, "validator %s", v.Operator)
		}
		if v.Status == types.VALIDATOR_STATUS_UNBONDING {
			addr, _ := sdk.AccAddressFromBech32(v.Operator)
			if err := k.UnbondingQueue.Set(ctx, collections.Join(v.UnbondingHeight, addr)); err != nil {
				return err
			}
		}
	}
	for _, key := range gs.VrfKeys {
		cons, _ := sdk.ConsAddressFromBech32(key.ConsensusAddress)
		if err := k.VrfKeys.Set(ctx, cons, key); err != nil {
			return err
		}
	}
	last := types.Randomness{Height: gs.LastRandomnessHeight, Value: gs.LastRandomness}
	if len(last.Value) == 0 {
		last.Value = genesisRandomness(sdk.UnwrapSDKContext(ctx).ChainID())
	}
	return k.LastRandomness.Set(ctx, last)
}

// ExportGenesis returns the module state as a genesis state. The randomness history is not
// exported (only the last value, which the next block's VRF input needs).
func (k Keeper) ExportGenesis(ctx context.Context) (*types.GenesisState, error) {
	params, err := k.Params.Get(ctx)
	if err != nil {
		return nil, errorsmod.Wrap(err, "reading params")
	}
	gs := types.NewGenesisState(params)
	if err := k.Validators.Walk(ctx, nil, func(_ sdk.AccAddress, v types.Validator) (bool, error) {
		gs.Validators = append(gs.Validators, v)
		return false, nil
	}); err != nil {
		return nil, err
	}
	if err := k.VrfKeys.Walk(ctx, nil, func(_ sdk.ConsAddress, v types.VrfKey) (bool, error) {
		gs.VrfKeys = append(gs.VrfKeys, v)
		return false, nil
	}); err != nil {
		return nil, err
	}
	last, err := k.LastRandomness.Get(ctx)
	if err != nil {
		return nil, errorsmod.Wrap(err, "reading last randomness")
	}
	gs.LastRandomness, gs.LastRandomnessHeight = last.Value, last.Height
	return gs, nil
}
