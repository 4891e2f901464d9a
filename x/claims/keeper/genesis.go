package keeper

import (
	"context"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/claims/types"
)

// InitGenesis validates and stores the genesis state; every index and queue is rebuilt from
// the claims so an exported state imports to the same behaviour.
func (k Keeper) InitGenesis(ctx context.Context, gs *types.GenesisState) error {
	if err := gs.Validate(); err != nil {
		return err
	}
	if err := k.Params.Set(ctx, gs.Params); err != nil {
		return errorsmod.Wrap(err, "setting params")
	}
	// The sequence stores the next value to hand out.
	if err := k.NextClaimID.Set(ctx, gs.NextClaimId); err != nil {
		return err
	}
	for _, c := range gs.Claims {
		if err := k.indexNew(ctx, c); err != nil {
			return errorsmod.Wrapf(err, "claim %d", c.Id)
		}
		for i, a := range c.Assignments {
			addr, _ := sdk.AccAddressFromBech32(a.Validator)
			if err := k.ByValidator.Set(ctx, collections.Join(addr, c.Id)); err != nil {
				return err
			}
			if c.Status == types.CLAIM_STATUS_ASSIGNED && i == c.OpenAssignment() {
				if err := k.OpenAssignments.Set(ctx, collections.Join(addr, c.Id)); err != nil {
					return err
				}
				if err := k.Deadlines.Set(ctx, collections.Join(a.DeadlineHeight, c.Id)); err != nil {
					return err
				}
			}
		}
		if c.Status == types.CLAIM_STATUS_REVEALING {
			if err := k.RevealDeadlines.Set(ctx, collections.Join(c.RevealDeadline, c.Id)); err != nil {
				return err
			}
		}
		if c.Status == types.CLAIM_STATUS_PENDING {
			if err := k.Pending.Set(ctx, c.Id); err != nil {
				return err
			}
		}
		if c.Status == types.CLAIM_STATUS_VALID {
			if has, err := k.Verified.Has(ctx, c.DerivationCid); err != nil {
				return err
			} else if !has {
				if err := k.Verified.Set(ctx, c.DerivationCid, c.Id); err != nil {
					return err
				}
			}
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
	if gs.NextClaimId, err = k.NextClaimID.Peek(ctx); err != nil {
		return nil, err
	}
	if gs.NextClaimId == 0 {
		gs.NextClaimId = 1
	}
	err = k.Claims.Walk(ctx, nil, func(_ uint64, c types.Claim) (bool, error) {
		gs.Claims = append(gs.Claims, c)
		return false, nil
	})
	return gs, err
}
