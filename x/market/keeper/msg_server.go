package keeper

import (
	"bytes"
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/market/tally"
	"github.com/buildchain/buildchain/x/market/types"
)

var _ types.MsgServer = msgServer{}

type msgServer struct{ k Keeper }

// NewMsgServerImpl returns the Msg service of the module.
func NewMsgServerImpl(k Keeper) types.MsgServer { return msgServer{k: k} }

// MaxEvidence bounds the evidence attached to one market (state growth).
const MaxEvidence = 32

// UpdateParams replaces the module params; only the authority may do it.
func (m msgServer) UpdateParams(ctx context.Context, msg *types.MsgUpdateParams) (*types.MsgUpdateParamsResponse, error) {
	if msg.Authority != m.k.authority {
		return nil, errorsmod.Wrapf(types.ErrInvalidAuthority, "expected %s, got %s", m.k.authority, msg.Authority)
	}
	if err := msg.Params.Validate(); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidParams, err.Error())
	}
	if err := m.k.Params.Set(ctx, msg.Params); err != nil {
		return nil, errorsmod.Wrap(err, "setting params")
	}
	return &types.MsgUpdateParamsResponse{}, nil
}

// CommitPrediction locks the stake behind a hidden prediction. Every check runs before any
// coin moves, so a refused commit changes nothing.
func (m msgServer) CommitPrediction(ctx context.Context, msg *types.MsgCommitPrediction) (*types.MsgCommitPredictionResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	predictor, _ := sdk.AccAddressFromBech32(msg.Predictor)
	market, err := m.k.GetMarket(ctx, msg.MarketId)
	if err != nil {
		return nil, err
	}
	h := sdk.UnwrapSDKContext(ctx).BlockHeight()
	if market.Status != types.MARKET_STATUS_OPEN {
		return nil, errorsmod.Wrapf(types.ErrMarketClosed, "market %d", market.Id)
	}
	if h > market.CommitEnd {
		return nil, errorsmod.Wrapf(types.ErrCommitClosed, "market %d took commits until height %d, now %d", market.Id, market.CommitEnd, h)
	}
	key := collections.Join(market.Id, predictor)
	if has, err := m.k.Predictions.Has(ctx, key); err != nil {
		return nil, errorsmod.Wrap(err, "reading prediction")
	} else if has {
		return nil, errorsmod.Wrapf(types.ErrAlreadyCommitted, "%s in market %d", msg.Predictor, market.Id)
	}
	params, err := m.k.Params.Get(ctx)
	if err != nil {
		return nil, errorsmod.Wrap(err, "reading params")
	}
	if msg.Stake.Denom != params.MinStake.Denom || msg.Stake.Amount.LT(params.MinStake.Amount) {
		return nil, errorsmod.Wrapf(types.ErrStakeTooLow, "stake %s, min_stake %s", msg.Stake, params.MinStake)
	}
	spendable := m.k.bankKeeper.SpendableCoins(ctx, predictor).AmountOf(msg.Stake.Denom)
	if spendable.LT(msg.Stake.Amount) {
		return nil, errorsmod.Wrapf(types.ErrInsufficientFund, "stake %s, spendable %s%s", msg.Stake, spendable, msg.Stake.Denom)
	}
	if err := m.k.bankKeeper.SendCoinsFromAccountToModule(ctx, predictor, types.ModuleName, sdk.NewCoins(msg.Stake)); err != nil {
		return nil, errorsmod.Wrapf(err, "locking stake %s", msg.Stake)
	}
	p := types.Prediction{
		MarketId: market.Id, Predictor: msg.Predictor, CommitHash: msg.CommitHash, Stake: msg.Stake.Amount,
		CommitHeight: h, Payout: sdkmath.ZeroInt(),
	}
	if err := m.k.Predictions.Set(ctx, key, p); err != nil {
		return nil, errorsmod.Wrap(err, "storing prediction")
	}
	if err := m.k.ByAccount.Set(ctx, collections.Join(predictor, market.Id)); err != nil {
		return nil, errorsmod.Wrap(err, "indexing prediction")
	}
	market.TotalStake = market.TotalStake.Add(msg.Stake.Amount)
	market.Predictions++
	if err := m.k.Markets.Set(ctx, market.Id, market); err != nil {
		return nil, errorsmod.Wrap(err, "storing market")
	}
	return &types.MsgCommitPredictionResponse{}, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(
		&types.EventPredictionCommitted{MarketId: market.Id, Predictor: msg.Predictor, Stake: msg.Stake.Amount})
}

// RevealPrediction opens a commit after commit_end and until reveal_end. Reveals during the
// commit phase are refused: an early reveal would let others copy it.
func (m msgServer) RevealPrediction(ctx context.Context, msg *types.MsgRevealPrediction) (*types.MsgRevealPredictionResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	predictor, _ := sdk.AccAddressFromBech32(msg.Predictor)
	market, err := m.k.GetMarket(ctx, msg.MarketId)
	if err != nil {
		return nil, err
	}
	h := sdk.UnwrapSDKContext(ctx).BlockHeight()
	switch {
	case market.Status != types.MARKET_STATUS_OPEN:
		return nil, errorsmod.Wrapf(types.ErrMarketClosed, "market %d", market.Id)
	case h <= market.CommitEnd:
		return nil, errorsmod.Wrapf(types.ErrRevealNotOpen, "market %d reveals from height %d, now %d", market.Id, market.CommitEnd+1, h)
	case h > market.RevealEnd:
		return nil, errorsmod.Wrapf(types.ErrRevealClosed, "market %d took reveals until height %d, now %d", market.Id, market.RevealEnd, h)
	}
	key := collections.Join(market.Id, predictor)
	p, err := m.k.Predictions.Get(ctx, key)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, errorsmod.Wrapf(types.ErrNoCommit, "%s in market %d", msg.Predictor, market.Id)
	}
	if err != nil {
		return nil, errorsmod.Wrap(err, "reading prediction")
	}
	if p.Revealed {
		return nil, errorsmod.Wrapf(types.ErrAlreadyRevealed, "%s in market %d", msg.Predictor, market.Id)
	}
	want, err := tally.CommitHash(tally.Outcome(msg.Outcome), msg.Salt, predictor)
	if err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidCommit, err.Error())
	}
	if !bytes.Equal(want, p.CommitHash) {
		return nil, errorsmod.Wrapf(types.ErrCommitMismatch, "outcome %s with this salt and sender does not hash to the commit", msg.Outcome)
	}
	p.Revealed, p.Outcome, p.RevealHeight = true, msg.Outcome, h
	if err := m.k.Predictions.Set(ctx, key, p); err != nil {
		return nil, errorsmod.Wrap(err, "storing prediction")
	}
	market.RevealedStake = market.RevealedStake.Add(p.Stake)
	if err := m.k.Markets.Set(ctx, market.Id, market); err != nil {
		return nil, errorsmod.Wrap(err, "storing market")
	}
	return &types.MsgRevealPredictionResponse{}, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(
		&types.EventPredictionRevealed{MarketId: market.Id, Predictor: msg.Predictor, Outcome: msg.Outcome})
}

// AddEvidence attaches evidence to a market until its reveal_end.
func (m msgServer) AddEvidence(ctx context.Context, msg *types.MsgAddEvidence) (*types.MsgAddEvidenceResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	market, err := m.k.GetMarket(ctx, msg.MarketId)
	if err != nil {
		return nil, err
	}
	h := sdk.UnwrapSDKContext(ctx).BlockHeight()
	if market.Status != types.MARKET_STATUS_OPEN || h > market.RevealEnd {
		return nil, errorsmod.Wrapf(types.ErrMarketClosed, "market %d", market.Id)
	}
	if len(market.Evidence) >= MaxEvidence {
		return nil, errorsmod.Wrapf(types.ErrTooMuchEvidence, "market %d has %d attachments", market.Id, len(market.Evidence))
	}
	market.Evidence = append(market.Evidence, types.Evidence{Submitter: msg.Submitter, Cid: msg.Cid, Note: msg.Note, Height: h})
	if err := m.k.Markets.Set(ctx, market.Id, market); err != nil {
		return nil, errorsmod.Wrap(err, "storing market")
	}
	return &types.MsgAddEvidenceResponse{}, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(
		&types.EventEvidenceAdded{MarketId: market.Id, Submitter: msg.Submitter, Cid: msg.Cid})
}
