package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/market/types"
)

// OpenMarket opens a market on a mismatch between a claim's output and a validator's report
// (x/claims calls it when a claim becomes DISPUTED). Commits are accepted until
// commit_end = now + commit_blocks, reveals until reveal_end = commit_end + reveal_blocks;
// the market resolves in the EndBlocker of reveal_end.
func (k Keeper) OpenMarket(ctx context.Context, req types.OpenMarketRequest) (uint64, error) {
	if err := req.Validate(); err != nil {
		return 0, err
	}
	params, err := k.Params.Get(ctx)
	if err != nil {
		return 0, errorsmod.Wrap(err, "reading params")
	}
	id, err := k.NextMarketID.Next(ctx)
	if err != nil {
		return 0, errorsmod.Wrap(err, "next market id")
	}
	if id == 0 { // the sequence starts at 0; ids start at 1 so that 0 means "none"
		if id, err = k.NextMarketID.Next(ctx); err != nil {
			return 0, errorsmod.Wrap(err, "next market id")
		}
	}
	h := sdk.UnwrapSDKContext(ctx).BlockHeight()
	m := types.Market{
		Id: id, ClaimId: req.ClaimID, Round: req.Round, DerivationCid: req.DerivationCID,
		ClaimedOutput: req.ClaimedOutput, ReportedOutput: req.ReportedOutput,
		Publisher: req.Publisher.String(), Dissenter: req.Dissenter.String(),
		OpenedHeight: h, CommitEnd: h + int64(params.CommitBlocks),
		Status: types.MARKET_STATUS_OPEN, TotalStake: sdkmath.ZeroInt(), RevealedStake: sdkmath.ZeroInt(),
	}
	m.RevealEnd = m.CommitEnd + int64(params.RevealBlocks)
	for _, a := range req.Agreeing {
		m.Agreeing = append(m.Agreeing, a.String())
	}
	if err := k.setNewMarket(ctx, m); err != nil {
		return 0, err
	}
	return id, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventMarketOpened{
		MarketId: id, ClaimId: m.ClaimId, Round: m.Round, ClaimedOutput: m.ClaimedOutput,
		ReportedOutput: m.ReportedOutput, CommitEnd: m.CommitEnd, RevealEnd: m.RevealEnd,
	})
}

func (k Keeper) setNewMarket(ctx context.Context, m types.Market) error {
	if err := k.Markets.Set(ctx, m.Id, m); err != nil {
		return errorsmod.Wrap(err, "storing market")
	}
	if err := k.ByClaim.Set(ctx, collections.Join(m.ClaimId, m.Id)); err != nil {
		return errorsmod.Wrap(err, "indexing market by claim")
	}
	if m.Status == types.MARKET_STATUS_OPEN {
		if err := k.OpenMarkets.Set(ctx, collections.Join(m.RevealEnd, m.Id)); err != nil {
			return errorsmod.Wrap(err, "indexing open market")
		}
	}
	return nil
}

// GetMarket returns a market or ErrMarketNotFound.
func (k Keeper) GetMarket(ctx context.Context, id uint64) (types.Market, error) {
	m, err := k.Markets.Get(ctx, id)
	if errors.Is(err, collections.ErrNotFound) {
		return m, errorsmod.Wrapf(types.ErrMarketNotFound, "market %d", id)
	}
	if err != nil {
		return m, errorsmod.Wrapf(err, "reading market %d", id)
	}
	return m, nil
}

// MarketPredictions returns the predictions of a market in predictor address order.
func (k Keeper) MarketPredictions(ctx context.Context, id uint64) ([]types.Prediction, error) {
	var out []types.Prediction
	rng := collections.NewPrefixedPairRange[uint64, sdk.AccAddress](id)
	err := k.Predictions.Walk(ctx, rng, func(_ collections.Pair[uint64, sdk.AccAddress], p types.Prediction) (bool, error) {
		out = append(out, p)
		return false, nil
	})
	if err != nil {
		return nil, errorsmod.Wrapf(err, "reading predictions of market %d", id)
	}
	return out, nil
}

// MarketsByClaimIDs returns the markets of a claim, oldest first.
func (k Keeper) MarketsByClaimIDs(ctx context.Context, claimID uint64) ([]types.Market, error) {
	var out []types.Market
	err := k.ByClaim.Walk(ctx, collections.NewPrefixedPairRange[uint64, uint64](claimID), func(key collections.Pair[uint64, uint64]) (bool, error) {
		m, err := k.Markets.Get(ctx, key.K2())
		if err != nil {
			return true, err
		}
		out = append(out, m)
		return false, nil
	})
	return out, err
}
