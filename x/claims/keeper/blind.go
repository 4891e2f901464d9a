package keeper

import (
	"bytes"
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/claims/game"
	"github.com/buildchain/buildchain/x/claims/types"
	validatorstypes "github.com/buildchain/buildchain/x/validators/types"
)

// Blind rounds (README.md §Blind rounds): every claim is blind; its builders commit
// (MsgCommitBuild); the number of rounds is drawn at each commit (game.AfterCommit); after
// the last commit the claim is REVEALING and the publisher (MsgRevealClaim) and the builders
// (MsgRevealBuild) open their commitments until reveal_deadline; game.Evaluate then takes the
// verdict. A round played again after that (a void round, or after a market) is committed and
// revealed the same way, but is not blind any more: the claimed output is public.

// commit applies MsgCommitBuild after its stateless checks.
func (k Keeper) commit(ctx context.Context, msg *types.MsgCommitBuild) (types.Claim, error) {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	height := sdkCtx.BlockHeight()
	c, err := k.GetClaim(ctx, msg.ClaimId)
	if err != nil {
		return c, err
	}
	i, err := k.answerAssignment(ctx, c, msg.Validator, msg.Round, height, "commit")
	if err != nil {
		return c, err
	}
	a := &c.Assignments[i]
	a.Status, a.Commitment, a.CommittedHeight = types.ROUND_STATUS_COMMITTED, msg.Commitment, height
	if err := sdkCtx.EventManager().EmitTypedEvent(&types.EventBuildCommitted{
		ClaimId: c.Id, Round: msg.Round, Validator: msg.Validator,
	}); err != nil {
		return c, err
	}
	params, err := k.Params.Get(ctx)
	if err != nil {
		return c, err
	}
	if c.Rounds > 0 {
		// A round played again: the number of rounds was fixed and the output is public.
		return c, k.openReveals(ctx, &c, params)
	}
	rnd, err := k.validators.BlockRandomness(ctx)
	if err != nil {
		return c, err
	}
	d, err := game.AfterCommit(rules(params), c.Round, game.ContinueSeed(rnd, c.Id, c.Round))
	if err != nil {
		return c, err
	}
	switch d {
	case game.Continue:
		c.Round++
		if err := k.setPending(ctx, &c); err != nil {
			return c, err
		}
		return c, k.Claims.Set(ctx, c.Id, c)
	case game.Reveal:
		c.Rounds = c.Round
		return c, k.openReveals(ctx, &c, params)
	default:
		return c, errorsmod.Wrapf(types.ErrWrongStatus, "unexpected decision %s", d)
	}
}

// openReveals ends a commit phase: REVEALING until report_timeout_blocks from now.
func (k Keeper) openReveals(ctx context.Context, c *types.Claim, params types.Params) error {
	c.Status = types.CLAIM_STATUS_REVEALING
	c.RevealDeadline = sdk.UnwrapSDKContext(ctx).BlockHeight() + int64(params.ReportTimeoutBlocks)
	if err := k.RevealDeadlines.Set(ctx, collections.Join(c.RevealDeadline, c.Id)); err != nil {
		return err
	}
	if err := k.Claims.Set(ctx, c.Id, *c); err != nil {
		return err
	}
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventRevealOpened{
		ClaimId: c.Id, Rounds: c.Rounds, RevealDeadline: c.RevealDeadline, Publisher: c.Publisher,
	})
}

// revealing checks that a claim takes reveals now.
func revealing(c types.Claim, height int64) error {
	if c.Status != types.CLAIM_STATUS_REVEALING {
		if c.Status == types.CLAIM_STATUS_PENDING || c.Status == types.CLAIM_STATUS_ASSIGNED {
			return errorsmod.Wrapf(types.ErrRevealTooEarly, "claim %d is %s: reveals open after the last commit", c.Id, c.Status.Short())
		}
		return errorsmod.Wrapf(types.ErrWrongStatus, "claim %d is %s, not revealing", c.Id, c.Status.Short())
	}
	if height > c.RevealDeadline {
		return errorsmod.Wrapf(types.ErrDeadlinePassed, "reveal deadline was height %d, now %d", c.RevealDeadline, height)
	}
	return nil
}

// revealClaim applies MsgRevealClaim after its stateless checks.
func (k Keeper) revealClaim(ctx context.Context, msg *types.MsgRevealClaim) (types.Claim, error) {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	c, err := k.GetClaim(ctx, msg.ClaimId)
	if err != nil {
		return c, err
	}
	if c.Publisher != msg.Publisher {
		return c, errorsmod.Wrapf(types.ErrNotAssigned, "%s is not the publisher of claim %d", msg.Publisher, c.Id)
	}
	if c.Revealed() {
		return c, errorsmod.Wrapf(types.ErrAlreadyReported, "claim %d already revealed its output", c.Id)
	}
	if err := revealing(c, sdkCtx.BlockHeight()); err != nil {
		return c, err
	}
	want := types.ClaimCommitment(c.Publisher, c.DerivationCid, msg.OutputCid, msg.Salt)
	if !bytes.Equal(want, c.OutputCommitment) {
		return c, errorsmod.Wrapf(types.ErrRevealMismatch, "output %s and this salt do not open claim %d's commitment", msg.OutputCid, c.Id)
	}
	c.OutputCid = msg.OutputCid
	if err := k.ByOutput.Set(ctx, collections.Join(c.OutputCid, c.Id)); err != nil {
		return c, err
	}
	if err := sdkCtx.EventManager().EmitTypedEvent(&types.EventClaimRevealed{ClaimId: c.Id, OutputCid: c.OutputCid}); err != nil {
		return c, err
	}
	return c, k.evaluate(ctx, &c)
}

// revealBuild applies MsgRevealBuild after its stateless checks.
func (k Keeper) revealBuild(ctx context.Context, msg *types.MsgRevealBuild) (types.Claim, error) {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	c, err := k.GetClaim(ctx, msg.ClaimId)
	if err != nil {
		return c, err
	}
	i := -1
	for j, a := range c.Assignments {
		if a.Validator == msg.Validator && a.Round == msg.Round {
			i = j
		}
	}
	if i < 0 {
		return c, errorsmod.Wrapf(types.ErrNotAssigned, "%s has no round %d of claim %d", msg.Validator, msg.Round, c.Id)
	}
	a := &c.Assignments[i]
	if a.Status != types.ROUND_STATUS_COMMITTED {
		if a.Status == types.ROUND_STATUS_ASSIGNED {
			return c, errorsmod.Wrapf(types.ErrRevealTooEarly, "round %d of claim %d is not committed", msg.Round, c.Id)
		}
		return c, errorsmod.Wrapf(types.ErrAlreadyReported, "round %d of claim %d is %s, not awaiting a reveal", msg.Round, c.Id, a.Status)
	}
	if err := revealing(c, sdkCtx.BlockHeight()); err != nil {
		return c, err
	}
	want := types.BuildCommitment(msg.Validator, c.Id, msg.Round, msg.OutputCid, msg.BuildTimeMs, msg.Salt)
	if !bytes.Equal(want, a.Commitment) {
		return c, errorsmod.Wrapf(types.ErrRevealMismatch, "result and salt do not open the commitment of round %d of claim %d", msg.Round, c.Id)
	}
	a.Status = types.ROUND_STATUS_REVEALED
	a.OutputCid, a.BuildTimeMs, a.ReportedHeight = msg.OutputCid, msg.BuildTimeMs, sdkCtx.BlockHeight()
	addr, _ := sdk.AccAddressFromBech32(msg.Validator)
	if err := k.validators.RecordReport(ctx, addr); err != nil && !errors.Is(err, validatorstypes.ErrValidatorNotFound) {
		return c, errorsmod.Wrap(err, "recording report")
	}
	if err := sdkCtx.EventManager().EmitTypedEvent(&types.EventBuildRevealed{
		ClaimId: c.Id, Round: msg.Round, Validator: msg.Validator, OutputCid: msg.OutputCid, BuildTimeMs: msg.BuildTimeMs,
	}); err != nil {
		return c, err
	}
	return c, k.evaluate(ctx, &c)
}

// blindRounds is what game.Evaluate needs to know of rounds 1..c.Rounds (the newest
// assignment of each).
func blindRounds(c types.Claim) []game.Round {
	rounds := make([]game.Round, 0, c.Rounds)
	for r := uint32(1); r <= c.Rounds; r++ {
		gr := game.Round{Round: r, State: game.RoundWaiting}
		if i := c.LatestAssignment(r); i >= 0 {
			a := c.Assignments[i]
			switch a.Status {
			case types.ROUND_STATUS_AGREED, types.ROUND_STATUS_NON_DETERMINISM:
				gr.State = game.RoundAgreed
			case types.ROUND_STATUS_REVEALED:
				gr.State, gr.Output = game.RoundRevealed, a.OutputCid
			case types.ROUND_STATUS_TIMED_OUT, types.ROUND_STATUS_REJECTED, types.ROUND_STATUS_REVEAL_MISSED:
				gr.State = game.RoundVoid
			}
		}
		rounds = append(rounds, gr)
	}
	return rounds
}

// evaluate takes the verdict on a REVEALING blind claim once nothing is awaited any more (the
// publisher and every committed builder revealed, or the reveal deadline passed).
func (k Keeper) evaluate(ctx context.Context, c *types.Claim) error {
	if !c.Revealed() {
		return k.Claims.Set(ctx, c.Id, *c)
	}
	v := game.Evaluate(c.OutputCid, blindRounds(*c))
	if v.Decision == game.Continue {
		return k.Claims.Set(ctx, c.Id, *c)
	}
	return k.applyVerdict(ctx, c, v)
}

// applyVerdict ends a reveal phase (or follows a market's verdict) with game.Evaluate's verdict.
func (k Keeper) applyVerdict(ctx context.Context, c *types.Claim, v game.Verdict) error {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	if c.RevealDeadline != 0 {
		if err := k.RevealDeadlines.Remove(ctx, collections.Join(c.RevealDeadline, c.Id)); err != nil {
			return err
		}
		c.RevealDeadline = 0
	}
	// Revealed results are compared now: the claimed output's are agreeing reports.
	for r := uint32(1); r <= c.Rounds; r++ {
		i := c.LatestAssignment(r)
		if i < 0 || c.Assignments[i].Status != types.ROUND_STATUS_REVEALED {
			continue
		}
		a := &c.Assignments[i]
		agrees := a.OutputCid == c.OutputCid
		if agrees {
			a.Status = types.ROUND_STATUS_AGREED
		} else if v.Decision == game.Dispute && v.Round == r {
			a.Status = types.ROUND_STATUS_DISAGREED
		} else {
			continue // another dissent, judged after this market
		}
		if err := sdkCtx.EventManager().EmitTypedEvent(&types.EventBuildReported{
			ClaimId: c.Id, Round: r, Validator: a.Validator, OutputCid: a.OutputCid, BuildTimeMs: a.BuildTimeMs, Agrees: agrees,
		}); err != nil {
			return err
		}
	}
	switch v.Decision {
	case game.Valid:
		c.Round = c.Rounds
		return k.finishValid(ctx, c)
	case game.Dispute:
		c.Status = types.CLAIM_STATUS_DISPUTED
		c.Round = v.Round
		if err := k.Claims.Set(ctx, c.Id, *c); err != nil {
			return err
		}
		d := c.Assignments[c.DisputedAssignment()]
		if err := sdkCtx.EventManager().EmitTypedEvent(&types.EventClaimDisputed{
			ClaimId: c.Id, Round: v.Round, DerivationCid: c.DerivationCid, ClaimedOutputCid: c.OutputCid,
			ReportedOutputCid: d.OutputCid, Validator: d.Validator,
		}); err != nil {
			return err
		}
		return k.afterDisputed(ctx, *c)
	case game.Replay:
		c.Round = v.Round
		if err := k.setPending(ctx, c); err != nil {
			return err
		}
		return k.Claims.Set(ctx, c.Id, *c)
	default:
		return errorsmod.Wrapf(types.ErrWrongStatus, "unexpected verdict %s", v.Decision)
	}
}

// resolveBlind follows a market's verdict on a claim's dissent (ResolveDispute has marked
// the dissenting round): the other rounds are judged again.
func (k Keeper) resolveBlind(ctx context.Context, c *types.Claim) error {
	v := game.Evaluate(c.OutputCid, blindRounds(*c))
	if v.Decision == game.Continue { // cannot happen: nothing is awaited while DISPUTED
		return errorsmod.Wrapf(types.ErrWrongStatus, "claim %d awaits a reveal after its market", c.Id)
	}
	return k.applyVerdict(ctx, c, v)
}

// revealTimeouts ends the reveal phases whose deadline is this height or earlier: a publisher
// that did not reveal has its claim rejected and its deposit burned; a builder that did not
// reveal is penalised as for a missed deadline and its round is played again.
func (k Keeper) revealTimeouts(ctx context.Context) error {
	due, err := dueKeys(ctx, k.RevealDeadlines, sdk.UnwrapSDKContext(ctx).BlockHeight())
	if err != nil {
		return err
	}
	if len(due) == 0 {
		return nil
	}
	params, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	ids := make([]uint64, len(due))
	for i, key := range due {
		ids[i] = key.K2()
	}
	return k.forEachClaim(ctx, "reveal timeout", ids, func(ctx context.Context, i int) error {
		return k.revealTimeoutOne(ctx, due[i], params)
	})
}

func (k Keeper) revealTimeoutOne(ctx context.Context, key collections.Pair[int64, uint64], params types.Params) error {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	c, err := k.GetClaim(ctx, key.K2())
	if err != nil {
		return err
	}
	if c.Status != types.CLAIM_STATUS_REVEALING || c.RevealDeadline != key.K1() {
		return k.RevealDeadlines.Remove(ctx, key) // stale entry
	}
	if !c.Revealed() {
		if err := k.RevealDeadlines.Remove(ctx, key); err != nil {
			return err
		}
		c.RevealDeadline = 0
		c.Status = types.CLAIM_STATUS_REJECTED
		c.FinishedHeight = sdkCtx.BlockHeight()
		if c.DepositLocked && c.Deposit.IsPositive() {
			if err := k.bank.BurnCoins(ctx, types.ModuleName, sdk.NewCoins(c.Deposit)); err != nil {
				return errorsmod.Wrapf(err, "burning the deposit of claim %d", c.Id)
			}
		}
		c.DepositLocked = false
		if err := k.Claims.Set(ctx, c.Id, c); err != nil {
			return err
		}
		if err := sdkCtx.EventManager().EmitTypedEvent(&types.EventRevealMissed{ClaimId: c.Id}); err != nil {
			return err
		}
		return sdkCtx.EventManager().EmitTypedEvent(&types.EventClaimRejected{ClaimId: c.Id})
	}
	for r := uint32(1); r <= c.Rounds; r++ {
		i := c.LatestAssignment(r)
		if i < 0 || c.Assignments[i].Status != types.ROUND_STATUS_COMMITTED {
			continue
		}
		a := &c.Assignments[i]
		a.Status = types.ROUND_STATUS_REVEAL_MISSED
		addr, _ := sdk.AccAddressFromBech32(a.Validator)
		// A validator whose unbonding completed meanwhile is gone: nothing left to penalise.
		if _, err := k.validators.HandleMissedDeadline(ctx, addr, params.SlashFractionTimeout); err != nil &&
			!errors.Is(err, validatorstypes.ErrValidatorNotFound) {
			return errorsmod.Wrapf(err, "penalising %s", a.Validator)
		}
		if err := sdkCtx.EventManager().EmitTypedEvent(&types.EventRevealMissed{ClaimId: c.Id, Round: r, Validator: a.Validator}); err != nil {
			return err
		}
	}
	v := game.Evaluate(c.OutputCid, blindRounds(c))
	if v.Decision == game.Continue { // cannot happen: every round is decided now
		return errorsmod.Wrapf(types.ErrWrongStatus, "claim %d still awaits a reveal at its deadline", c.Id)
	}
	return k.applyVerdict(ctx, &c, v)
}
