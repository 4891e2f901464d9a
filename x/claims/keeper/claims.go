package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

	"github.com/buildchain/buildchain/x/claims/game"
	"github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/validators/assign"
	validatorstypes "github.com/buildchain/buildchain/x/validators/types"
)

// GetClaim returns a claim by id.
func (k Keeper) GetClaim(ctx context.Context, id uint64) (types.Claim, error) {
	c, err := k.Claims.Get(ctx, id)
	if errors.Is(err, collections.ErrNotFound) {
		return types.Claim{}, errorsmod.Wrapf(types.ErrClaimNotFound, "claim %d", id)
	}
	return c, err
}

func rules(p types.Params) game.Rules {
	return game.Rules{PContinue: p.PContinue, MinRounds: p.MinRounds, MaxRounds: p.MaxRounds}
}

// setPending puts the claim back in the assignment queue (same round when reassigning).
func (k Keeper) setPending(ctx context.Context, c *types.Claim) error {
	c.Status = types.CLAIM_STATUS_PENDING
	c.PendingSince = sdk.UnwrapSDKContext(ctx).BlockHeight()
	return k.Pending.Set(ctx, c.Id)
}

// closeAssignment drops the open-assignment indexes of assignment i.
func (k Keeper) closeAssignment(ctx context.Context, c types.Claim, i int) error {
	a := c.Assignments[i]
	addr, err := sdk.AccAddressFromBech32(a.Validator)
	if err != nil {
		return err
	}
	if err := k.OpenAssignments.Remove(ctx, collections.Join(addr, c.Id)); err != nil {
		return err
	}
	return k.Deadlines.Remove(ctx, collections.Join(a.DeadlineHeight, c.Id))
}

// returnDeposit unlocks the deposit back to the publisher.
func (k Keeper) returnDeposit(ctx context.Context, c *types.Claim) error {
	if !c.DepositLocked {
		return nil
	}
	c.DepositLocked = false
	if !c.Deposit.IsPositive() {
		return nil
	}
	pub, err := sdk.AccAddressFromBech32(c.Publisher)
	if err != nil {
		return err
	}
	if err := k.bank.SendCoinsFromModuleToAccount(ctx, types.ModuleName, pub, sdk.NewCoins(c.Deposit)); err != nil {
		return errorsmod.Wrapf(err, "returning deposit of claim %d", c.Id)
	}
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventDepositReturned{
		ClaimId: c.Id, Publisher: c.Publisher, Amount: c.Deposit,
	})
}

// finishValid ends the game with VALID: deposit back, verified index, hooks.
func (k Keeper) finishValid(ctx context.Context, c *types.Claim) error {
	c.Status = types.CLAIM_STATUS_VALID
	c.FinishedHeight = sdk.UnwrapSDKContext(ctx).BlockHeight()
	if err := k.returnDeposit(ctx, c); err != nil {
		return err
	}
	if has, err := k.Verified.Has(ctx, c.DerivationCid); err != nil {
		return err
	} else if !has {
		if err := k.Verified.Set(ctx, c.DerivationCid, c.Id); err != nil {
			return err
		}
	}
	if err := k.Claims.Set(ctx, c.Id, *c); err != nil {
		return err
	}
	if err := sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventClaimValid{
		ClaimId: c.Id, DerivationCid: c.DerivationCid, OutputCid: c.OutputCid, Rounds: c.Round,
	}); err != nil {
		return err
	}
	return k.afterValidated(ctx, *c)
}

// answerAssignment checks that validator holds the open assignment of round of c (not
// answered or timed out yet, the claim ASSIGNED in that round, before the deadline) and
// closes it; it returns the assignment's index (for a commit, x/claims/keeper/blind.go);
// verb names the answer in errors.
func (k Keeper) answerAssignment(ctx context.Context, c types.Claim, validator string, round uint32, height int64, verb string) (int, error) {
	for _, a := range c.Assignments {
		if a.Validator == validator && a.Round == round && a.Status != types.ROUND_STATUS_ASSIGNED {
			return -1, errorsmod.Wrapf(types.ErrAlreadyReported, "%s already answered (or timed out) round %d of claim %d", validator, round, c.Id)
		}
	}
	if c.Status != types.CLAIM_STATUS_ASSIGNED {
		return -1, errorsmod.Wrapf(types.ErrWrongStatus, "claim %d is %s, not awaiting a %s", c.Id, c.Status.Short(), verb)
	}
	if round != c.Round {
		return -1, errorsmod.Wrapf(types.ErrWrongRound, "claim %d is in round %d, %s is for round %d", c.Id, c.Round, verb, round)
	}
	i := c.OpenAssignment()
	if i < 0 || c.Assignments[i].Validator != validator {
		return -1, errorsmod.Wrapf(types.ErrNotAssigned, "%s is not assigned to round %d of claim %d", validator, c.Round, c.Id)
	}
	if height > c.Assignments[i].DeadlineHeight {
		return -1, errorsmod.Wrapf(types.ErrDeadlinePassed, "deadline was height %d, now %d", c.Assignments[i].DeadlineHeight, height)
	}
	return i, k.closeAssignment(ctx, c, i)
}

// addBlockFee notes a claim fee the module account received in this block.
func (k Keeper) addBlockFee(ctx context.Context, fee sdk.Coin) error {
	sum, err := k.BlockFees.Get(ctx, fee.Denom)
	if errors.Is(err, collections.ErrNotFound) {
		sum = fee.Amount
	} else if err != nil {
		return err
	} else {
		sum = sum.Add(fee.Amount)
	}
	return k.BlockFees.Set(ctx, fee.Denom, sum)
}

// PendingBlockFees returns the claim fees of this block not yet forwarded (the module account
// holds them next to the locked deposits until EndBlock).
func (k Keeper) PendingBlockFees(ctx context.Context) (sdk.Coins, error) {
	fees := sdk.NewCoins()
	err := k.BlockFees.Walk(ctx, nil, func(denom string, amt sdkmath.Int) (bool, error) {
		fees = fees.Add(sdk.NewCoin(denom, amt))
		return false, nil
	})
	return fees, err
}

// forwardBlockFees pays the block's claim fees to the fee collector in one transfer. Only a
// bug (the module account not holding them) can make that fail: then the fees stay recorded
// for the next block and the failure is logged, rather than halting the chain.
func (k Keeper) forwardBlockFees(ctx context.Context) {
	fees, err := k.PendingBlockFees(ctx)
	if err == nil && fees.IsZero() {
		return
	}
	cctx, write := sdk.UnwrapSDKContext(ctx).CacheContext()
	if err == nil {
		err = k.BlockFees.Clear(cctx, nil)
	}
	if err == nil {
		err = k.bank.SendCoinsFromModuleToModule(cctx, types.ModuleName, authtypes.FeeCollectorName, fees)
	}
	if err != nil {
		k.logger(ctx).Error("forwarding claim fees failed; will retry next block", "fees", fees, "err", err)
		return
	}
	write()
}

// EndBlocker forwards the block's claim fees, times out late assignments (penalising and
// jailing their validators), ends the reveal phases whose deadline came (README.md §Blind
// rounds) and then assigns a validator to every PENDING claim, using this block's randomness.
func (k Keeper) EndBlocker(ctx context.Context) error {
	k.forwardBlockFees(ctx)
	if err := k.timeouts(ctx); err != nil {
		return errorsmod.Wrap(err, "timing out assignments")
	}
	if err := k.revealTimeouts(ctx); err != nil {
		return errorsmod.Wrap(err, "ending reveal phases")
	}
	return errorsmod.Wrap(k.assignPending(ctx), "assigning pending claims")
}

// dueKeys lists the (deadline, id) entries of a deadline queue at or before height.
func dueKeys(ctx context.Context, queue collections.KeySet[collections.Pair[int64, uint64]], height int64) ([]collections.Pair[int64, uint64], error) {
	rng := new(collections.Range[collections.Pair[int64, uint64]]).EndExclusive(collections.Join(height+1, uint64(0)))
	var due []collections.Pair[int64, uint64]
	err := queue.Walk(ctx, rng, func(key collections.Pair[int64, uint64]) (bool, error) {
		due = append(due, key)
		return false, nil
	})
	return due, err
}

func (k Keeper) timeouts(ctx context.Context) error {
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	params, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	// Deadlines at or before this height: their last chance to report was this block.
	due, err := dueKeys(ctx, k.Deadlines, height)
	if err != nil {
		return err
	}
	ids := make([]uint64, len(due))
	for i, key := range due {
		ids[i] = key.K2()
	}
	return k.forEachClaim(ctx, "timeout", ids, func(ctx context.Context, i int) error {
		return k.timeoutOne(ctx, due[i], params)
	})
}

// forEachClaim runs one EndBlock step for each claim. Fast path: all of them in one cached
// context (one cache per claim costs more than the claim's own work). If any fails — only a
// bug in this module or a hook can cause that — the batch is discarded and redone with each
// claim isolated, so the failing claim is logged and left for the next block while the
// others proceed. Both paths are deterministic.
func (k Keeper) forEachClaim(ctx context.Context, step string, ids []uint64, fn func(context.Context, int) error) error {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	cctx, write := sdkCtx.CacheContext()
	failed := false
	for i := range ids {
		if err := fn(cctx, i); err != nil {
			failed = true
			break
		}
	}
	if !failed {
		write()
		return nil
	}
	for i, id := range ids {
		k.isolated(ctx, step, id, func(ctx context.Context) error { return fn(ctx, i) })
	}
	return nil
}

// isolated runs one claim's EndBlock step in a cached context: a failure is logged and
// leaves that claim untouched for the next block instead of halting the chain.
func (k Keeper) isolated(ctx context.Context, step string, id uint64, fn func(context.Context) error) {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	cctx, write := sdkCtx.CacheContext()
	if err := fn(cctx); err != nil {
		k.logger(ctx).Error("claim end-block step failed; will retry next block", "step", step, "claim", id, "err", err)
		return
	}
	write()
}

func (k Keeper) timeoutOne(ctx context.Context, key collections.Pair[int64, uint64], params types.Params) error {
	c, err := k.GetClaim(ctx, key.K2())
	if err != nil {
		return err
	}
	i := c.OpenAssignment()
	if i < 0 || c.Assignments[i].DeadlineHeight != key.K1() {
		return k.Deadlines.Remove(ctx, key) // stale entry
	}
	if err := k.closeAssignment(ctx, c, i); err != nil {
		return err
	}
	a := &c.Assignments[i]
	a.Status = types.ROUND_STATUS_TIMED_OUT
	addr, _ := sdk.AccAddressFromBech32(a.Validator)
	// A validator whose unbonding completed meanwhile is gone: nothing left to penalise.
	if _, err := k.validators.HandleMissedDeadline(ctx, addr, params.SlashFractionTimeout); err != nil &&
		!errors.Is(err, validatorstypes.ErrValidatorNotFound) {
		return errorsmod.Wrapf(err, "penalising %s", a.Validator)
	}
	if err := k.setPending(ctx, &c); err != nil {
		return err
	}
	if err := k.Claims.Set(ctx, c.Id, c); err != nil {
		return err
	}
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventRoundTimedOut{
		ClaimId: c.Id, Round: c.Round, Validator: a.Validator,
	})
}

func (k Keeper) assignPending(ctx context.Context) error {
	var ids []uint64
	if err := k.Pending.Walk(ctx, nil, func(id uint64) (bool, error) {
		ids = append(ids, id)
		return false, nil
	}); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	params, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	rnd, err := k.validators.BlockRandomness(ctx)
	if err != nil {
		return err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	// Candidates do not change while assigning, so read each system's list once per block.
	cache := map[string][]assign.Candidate{}
	return k.forEachClaim(ctx, "assign", ids, func(ctx context.Context, i int) error {
		return k.assignOne(ctx, ids[i], params, rnd, cache, height)
	})
}

func (k Keeper) assignOne(ctx context.Context, id uint64, params types.Params, rnd []byte, cache map[string][]assign.Candidate, height int64) error {
	c, err := k.GetClaim(ctx, id)
	if err != nil {
		return err
	}
	cands, ok := cache[c.System]
	if !ok {
		if cands, err = k.validators.Candidates(ctx, c.System); err != nil {
			return err
		}
		cache[c.System] = cands
	}
	if c.Round == 0 {
		c.Round = 1
	}
	pub, err := sdk.AccAddressFromBech32(c.Publisher)
	if err != nil {
		return err
	}
	// Excluded: the publisher and every validator the claim already had (by address bytes,
	// decoded once, rather than encoding every candidate to bech32).
	excluded := map[string]bool{string(pub): true}
	for _, as := range c.Assignments {
		v, err := sdk.AccAddressFromBech32(as.Validator)
		if err != nil {
			return err
		}
		excluded[string(v)] = true
	}
	exclude := func(a []byte) bool { return excluded[string(a)] }
	picked, err := assign.Pick(cands, assign.Seed(rnd, c.Id, c.Round), exclude)
	if errors.Is(err, assign.ErrNoCandidate) {
		return k.noCandidate(ctx, &c, params, height)
	}
	if err != nil {
		return err
	}
	addr := sdk.AccAddress(picked.Address)
	a := types.Assignment{
		Round: c.Round, Validator: addr.String(), Status: types.ROUND_STATUS_ASSIGNED,
		AssignedHeight: height, DeadlineHeight: height + int64(params.ReportTimeoutBlocks),
	}
	c.Assignments = append(c.Assignments, a)
	c.Status = types.CLAIM_STATUS_ASSIGNED
	for _, err := range []error{
		k.Pending.Remove(ctx, c.Id),
		k.OpenAssignments.Set(ctx, collections.Join(addr, c.Id)),
		k.ByValidator.Set(ctx, collections.Join(addr, c.Id)),
		k.Deadlines.Set(ctx, collections.Join(a.DeadlineHeight, c.Id)),
		k.Claims.Set(ctx, c.Id, c),
	} {
		if err != nil {
			return err
		}
	}
	ev, err := (&types.EventClaimAssigned{
		ClaimId: c.Id, Round: c.Round, Validator: a.Validator, DerivationCid: c.DerivationCid,
		System: c.System, DeadlineHeight: a.DeadlineHeight,
	}).ToEvent()
	if err != nil {
		return err
	}
	sdk.UnwrapSDKContext(ctx).EventManager().EmitEvent(ev)
	return nil
}

// noCandidate handles a PENDING claim nobody can build: in its commit phase with min_rounds
// commits, the round that cannot be played is not drawn and the reveals open; a round played
// again (after the reveals) is not needed if min_rounds other rounds agree, and the claim is
// VALID. Otherwise it waits (e.g. for validators to register or be unjailed) and EXPIRES
// after report_timeout_blocks.
func (k Keeper) noCandidate(ctx context.Context, c *types.Claim, params types.Params, height int64) error {
	if c.Rounds == 0 && c.Round > params.MinRounds {
		if err := k.Pending.Remove(ctx, c.Id); err != nil {
			return err
		}
		c.Round--
		c.Rounds = c.Round
		return k.openReveals(ctx, c, params)
	}
	if c.Rounds > 0 && c.AgreedRounds() >= params.MinRounds {
		if err := k.Pending.Remove(ctx, c.Id); err != nil {
			return err
		}
		c.Round = c.Rounds
		return k.finishValid(ctx, c)
	}
	if height-c.PendingSince < int64(params.ReportTimeoutBlocks) {
		return nil
	}
	if err := k.Pending.Remove(ctx, c.Id); err != nil {
		return err
	}
	return k.finishExpired(ctx, c)
}

// finishExpired ends the game unverified: EXPIRED, deposit back to the publisher, nothing
// recorded as verified, nobody slashed. A claim that found no eligible validator in time
// (noCandidate) and one whose dispute's market was inconclusive (ResolveDispute) end here.
func (k Keeper) finishExpired(ctx context.Context, c *types.Claim) error {
	c.Status = types.CLAIM_STATUS_EXPIRED
	c.FinishedHeight = sdk.UnwrapSDKContext(ctx).BlockHeight()
	refunded := c.Deposit
	if err := k.returnDeposit(ctx, c); err != nil {
		return err
	}
	if err := k.Claims.Set(ctx, c.Id, *c); err != nil {
		return err
	}
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventClaimExpired{ClaimId: c.Id, Refunded: refunded})
}
