package keeper

import (
	"context"
	"fmt"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/market/tally"
	"github.com/buildchain/buildchain/x/market/types"
)

// Slash kinds as x/bct names them in its events.
const (
	slashKindPublisherDeposit = "publisher_deposit"
	slashKindValidatorBond    = "validator_bond"
)

// EndBlocker resolves every open market whose reveal_end is this height (or earlier, should a
// resolution have failed before). Each market resolves in its own cached context: a failure
// (logged) leaves that market open to be retried next block and never halts the chain or
// leaves half-applied payouts.
func (k Keeper) EndBlocker(ctx context.Context) error {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	h := sdkCtx.BlockHeight()
	rng := new(collections.Range[collections.Pair[int64, uint64]]).
		EndInclusive(collections.Join(h, ^uint64(0)))
	var due []uint64
	err := k.OpenMarkets.Walk(ctx, rng, func(key collections.Pair[int64, uint64]) (bool, error) {
		due = append(due, key.K2())
		return false, nil
	})
	if err != nil {
		return errorsmod.Wrap(err, "walking open markets")
	}
	for _, id := range due {
		cacheCtx, write := sdkCtx.CacheContext()
		if err := k.Resolve(cacheCtx, id); err != nil {
			sdkCtx.Logger().Error("x/market: resolving market failed; retrying next block", "market", id, "err", err)
			continue
		}
		write()
	}
	return nil
}

// Resolve tallies a market (tally.Resolve), pays out the stakes, applies the verdict
// (slashes through x/claims, x/validators and x/bct) and tells x/claims.
func (k Keeper) Resolve(ctx context.Context, id uint64) error {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	market, err := k.GetMarket(ctx, id)
	if err != nil {
		return err
	}
	if market.Status != types.MARKET_STATUS_OPEN {
		return errorsmod.Wrapf(types.ErrMarketClosed, "market %d", id)
	}
	params, err := k.Params.Get(ctx)
	if err != nil {
		return errorsmod.Wrap(err, "reading params")
	}
	preds, err := k.MarketPredictions(ctx, id)
	if err != nil {
		return err
	}
	in := make([]tally.Prediction, len(preds))
	for i, p := range preds {
		in[i] = tally.Prediction{Key: p.Predictor, Stake: p.Stake, Revealed: p.Revealed, Outcome: tally.Outcome(p.Outcome)}
	}
	res, err := tally.Resolve(in, params.Quorum.Amount, params.MarketFee)
	if err != nil {
		return errorsmod.Wrapf(err, "tallying market %d", id)
	}

	// Pay out the stakes.
	for i, p := range preds {
		p.Payout = res.Payouts[i]
		addr, err := sdk.AccAddressFromBech32(p.Predictor)
		if err != nil {
			return errorsmod.Wrapf(err, "predictor %q", p.Predictor)
		}
		if p.Payout.IsPositive() {
			if err := k.bankKeeper.SendCoinsFromModuleToAccount(ctx, types.ModuleName, addr,
				sdk.NewCoins(sdk.NewCoin(appparams.BondDenom, p.Payout))); err != nil {
				return errorsmod.Wrapf(err, "paying %s to %s", p.Payout, p.Predictor)
			}
		}
		if err := k.Predictions.Set(ctx, collections.Join(id, addr), p); err != nil {
			return errorsmod.Wrap(err, "storing prediction")
		}
		if err := sdkCtx.EventManager().EmitTypedEvent(&types.EventPredictionSettled{
			MarketId: id, Predictor: p.Predictor, Stake: p.Stake, Payout: p.Payout,
		}); err != nil {
			return err
		}
	}
	if err := k.bctKeeper.PayDevFund(ctx, types.ModuleName, res.Fee); err != nil {
		return errorsmod.Wrap(err, "paying the market fee")
	}
	if err := k.bctKeeper.Burn(ctx, types.ModuleName, res.Burned); err != nil {
		return errorsmod.Wrap(err, "burning unclaimed stakes")
	}

	outcome := types.Outcome(res.Outcome)
	market.Status = types.MARKET_STATUS_RESOLVED
	market.Outcome = outcome
	market.Decided = res.Decided
	market.Reason = string(res.Reason)
	market.ResolvedHeight = sdkCtx.BlockHeight()
	if err := k.Markets.Set(ctx, id, market); err != nil {
		return errorsmod.Wrap(err, "storing market")
	}
	if err := k.OpenMarkets.Remove(ctx, collections.Join(market.RevealEnd, id)); err != nil {
		return errorsmod.Wrap(err, "unindexing market")
	}
	if err := k.applyVerdict(ctx, market, outcome, res.Decided); err != nil {
		return err
	}
	return sdkCtx.EventManager().EmitTypedEvent(&types.EventMarketResolved{
		MarketId: id, ClaimId: market.ClaimId, Outcome: outcome, Decided: res.Decided, Reason: string(res.Reason),
		TotalStake: res.TotalStake, RevealedStake: res.RevealedStake, Fee: res.Fee, Burned: res.Burned,
	})
}

// DisputeOutcome maps a market result onto x/claims' verdicts: a decided NON_DETERMINISM
// counts as agreement; an undecided market (no quorum, tie) is x/claims' OutcomeInconclusive:
// the claim ends EXPIRED, unverified (docs/ARCHITECTURE.md §Economics, x/market/README.md).
func DisputeOutcome(o types.Outcome, decided bool) claimstypes.DisputeOutcome {
	switch {
	case o == types.OUTCOME_MISBEHAVIOUR_CLAIM:
		return claimstypes.OutcomeMisbehaviourClaim
	case o == types.OUTCOME_MISBEHAVIOUR_REPORT:
		return claimstypes.OutcomeMisbehaviourReport
	case !decided:
		return claimstypes.OutcomeInconclusive
	default:
		return claimstypes.OutcomeNonDeterminism
	}
}

// applyVerdict tells x/claims and slashes the liars the market named (docs/ARCHITECTURE.md §Economics):
//   - MISBEHAVIOUR_CLAIM: the claim is REJECTED; the publisher loses its whole deposit and
//     every validator whose report agreed with the claim loses slash_fraction_validator of its
//     bond; the dissenter exposed them (and is credited its build time, which no VALID claim
//     will credit).
//   - MISBEHAVIOUR_REPORT: the dissenting validator loses slash_fraction_validator of its
//     bond and its round is reassigned; the validators whose reports agreed with the claim
//     exposed it (none: all of it is burned).
//
// The slashed coins go into the x/bct module account, which pays half to the exposers and
// burns the rest.
func (k Keeper) applyVerdict(ctx context.Context, market types.Market, outcome types.Outcome, decided bool) error {
	claims := k.deps.claims
	if claims == nil {
		return errorsmod.Wrap(types.ErrInvalidMarket, "x/claims is not wired")
	}
	if err := claims.ResolveDispute(ctx, market.ClaimId, DisputeOutcome(outcome, decided)); err != nil {
		return errorsmod.Wrapf(err, "x/claims refused the verdict on claim %d", market.ClaimId)
	}
	var liars, exposers []string
	switch outcome {
	case types.OUTCOME_MISBEHAVIOUR_CLAIM:
		liars, exposers = market.Agreeing, []string{market.Dissenter}
	case types.OUTCOME_MISBEHAVIOUR_REPORT:
		liars, exposers = []string{market.Dissenter}, market.Agreeing
	default:
		return nil
	}
	total := sdkmath.ZeroInt()
	if outcome == types.OUTCOME_MISBEHAVIOUR_CLAIM {
		dep, err := claims.SeizeDeposit(ctx, market.ClaimId, bcttypes.ModuleName)
		if err != nil {
			return errorsmod.Wrapf(err, "seizing the deposit of claim %d", market.ClaimId)
		}
		pub, err := sdk.AccAddressFromBech32(market.Publisher)
		if err != nil {
			return errorsmod.Wrapf(err, "publisher %q", market.Publisher)
		}
		if err := k.bctKeeper.NoteSlash(ctx, pub, slashKindPublisherDeposit, market.ClaimId, dep.Amount); err != nil {
			return err
		}
		total = total.Add(dep.Amount)
		if err := k.creditHonestBuilds(ctx, market.ClaimId); err != nil {
			return err
		}
	}
	vals := k.deps.validators
	if vals == nil {
		return errorsmod.Wrap(types.ErrInvalidMarket, "x/validators is not wired")
	}
	fraction, err := k.bctKeeper.SlashFractionValidator(ctx)
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("market %d: %s", market.Id, outcome)
	for _, l := range liars {
		addr, err := sdk.AccAddressFromBech32(l)
		if err != nil {
			return errorsmod.Wrapf(err, "validator %q", l)
		}
		amt, err := vals.SlashBond(ctx, addr, fraction, bcttypes.ModuleName, reason)
		if err != nil {
			// A liar that is no longer a validator has no bond left to take; the verdict
			// still stands for everyone else.
			sdk.UnwrapSDKContext(ctx).Logger().Info("x/market: cannot slash", "validator", l, "err", err)
			continue
		}
		if err := k.bctKeeper.NoteSlash(ctx, addr, slashKindValidatorBond, market.ClaimId, amt.Amount); err != nil {
			return err
		}
		total = total.Add(amt.Amount)
	}
	exp := make([]sdk.AccAddress, 0, len(exposers))
	for _, e := range exposers {
		addr, err := sdk.AccAddressFromBech32(e)
		if err != nil {
			return errorsmod.Wrapf(err, "exposer %q", e)
		}
		exp = append(exp, addr)
	}
	if _, err := k.bctKeeper.DistributeSlash(ctx, market.ClaimId, bcttypes.ModuleName, total, exp); err != nil {
		return errorsmod.Wrap(err, "distributing the slash")
	}
	return nil
}

// creditHonestBuilds books the build times of a rejected claim's honest rebuilders (the
// dissenter and earlier reports judged non-determinism) in x/bct: they did the work, and the
// claim will never become VALID to credit them.
func (k Keeper) creditHonestBuilds(ctx context.Context, claimID uint64) error {
	c, err := k.deps.claims.GetClaim(ctx, claimID)
	if err != nil {
		return errorsmod.Wrapf(err, "reading claim %d", claimID)
	}
	var reports []bcttypes.BuildReport
	for _, a := range c.Assignments {
		if a.Status != claimstypes.ROUND_STATUS_DISAGREED && a.Status != claimstypes.ROUND_STATUS_NON_DETERMINISM {
			continue
		}
		addr, err := sdk.AccAddressFromBech32(a.Validator)
		if err != nil {
			return errorsmod.Wrapf(err, "validator %q", a.Validator)
		}
		reports = append(reports, bcttypes.BuildReport{Validator: addr, BuildTimeMs: a.BuildTimeMs})
	}
	if len(reports) == 0 {
		return nil
	}
	return k.bctKeeper.RecordValidation(ctx, claimID, reports)
}
