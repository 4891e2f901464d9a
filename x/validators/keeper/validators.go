package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/validators/assign"
	"github.com/buildchain/buildchain/x/validators/types"
)

// GetValidator returns the build validator operated by addr.
func (k Keeper) GetValidator(ctx context.Context, addr sdk.AccAddress) (types.Validator, error) {
	v, err := k.Validators.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return types.Validator{}, errorsmod.Wrapf(types.ErrValidatorNotFound, "%s", addr)
	}
	return v, err
}

// setValidator stores v and keeps the system index in step with old (nil when new).
func (k Keeper) setValidator(ctx context.Context, old *types.Validator, v types.Validator) error {
	addr, err := sdk.AccAddressFromBech32(v.Operator)
	if err != nil {
		return err
	}
	if old != nil {
		for _, s := range old.Systems {
			if err := k.BySystem.Remove(ctx, collections.Join(s, addr)); err != nil {
				return err
			}
		}
	}
	for _, s := range v.Systems {
		if err := k.BySystem.Set(ctx, collections.Join(s, addr)); err != nil {
			return err
		}
	}
	return k.Validators.Set(ctx, addr, v)
}

func (k Keeper) removeValidator(ctx context.Context, v types.Validator) error {
	addr, err := sdk.AccAddressFromBech32(v.Operator)
	if err != nil {
		return err
	}
	for _, s := range v.Systems {
		if err := k.BySystem.Remove(ctx, collections.Join(s, addr)); err != nil {
			return err
		}
	}
	return k.Validators.Remove(ctx, addr)
}

// Candidates returns the validators that may be assigned a build for system, with their
// selection weights, in address order (iteration order of the index).
func (k Keeper) Candidates(ctx context.Context, system string) ([]assign.Candidate, error) {
	params, err := k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	var out []assign.Candidate
	rng := collections.NewPrefixedPairRange[string, sdk.AccAddress](system)
	err = k.BySystem.Walk(ctx, rng, func(key collections.Pair[string, sdk.AccAddress]) (bool, error) {
		v, err := k.Validators.Get(ctx, key.K2())
		if err != nil {
			return true, err
		}
		if !v.IsEligible() {
			return false, nil
		}
		w := assign.Weight(v.Bond.Amount, v.Efficiency, params.WeightByEfficiency)
		if w.IsPositive() {
			out = append(out, assign.Candidate{Address: key.K2(), Weight: w})
		}
		return false, nil
	})
	return out, err
}

// PickValidator draws the validator for one round: probability ∝ weight among the eligible
// validators of system, from seed = assign.Seed(randomness, claim, round), skipping excluded.
func (k Keeper) PickValidator(ctx context.Context, system string, seed [32]byte, exclude func(sdk.AccAddress) bool) (sdk.AccAddress, error) {
	cands, err := k.Candidates(ctx, system)
	if err != nil {
		return nil, err
	}
	c, err := assign.Pick(cands, seed, func(a []byte) bool { return exclude != nil && exclude(sdk.AccAddress(a)) })
	if errors.Is(err, assign.ErrNoCandidate) {
		return nil, errorsmod.Wrapf(types.ErrNoEligibleValidator, "system %s", system)
	}
	if err != nil {
		return nil, err
	}
	return sdk.AccAddress(c.Address), nil
}

// RecordReport notes a report made before its deadline: it clears the consecutive-miss count.
func (k Keeper) RecordReport(ctx context.Context, addr sdk.AccAddress) error {
	v, err := k.GetValidator(ctx, addr)
	if err != nil {
		return err
	}
	v.CompletedAssignments++
	v.MissedAssignments = 0
	return k.Validators.Set(ctx, addr, v)
}

// HandleMissedDeadline penalises a validator that did not report in time: slashFraction of
// its bond is burned and, once it has missed max_missed_assignments deadlines in a row, it is
// jailed for jail_blocks. Returns whether it was jailed now.
func (k Keeper) HandleMissedDeadline(ctx context.Context, addr sdk.AccAddress, slashFraction sdkmath.LegacyDec) (bool, error) {
	v, err := k.GetValidator(ctx, addr)
	if err != nil {
		return false, err
	}
	if _, err := k.slash(ctx, &v, slashFraction, "", "missed build deadline"); err != nil {
		return false, err
	}
	v.MissedAssignments++
	v.TotalMissed++
	params, err := k.Params.Get(ctx)
	if err != nil {
		return false, err
	}
	jailed := false
	if v.Status == types.VALIDATOR_STATUS_ACTIVE && v.MissedAssignments >= params.MaxMissedAssignments {
		height := sdk.UnwrapSDKContext(ctx).BlockHeight()
		v.Status = types.VALIDATOR_STATUS_JAILED
		v.JailedUntil = height + int64(params.JailBlocks)
		jailed = true
		if err := sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventValidatorJailed{
			Operator: v.Operator, JailedUntil: v.JailedUntil, MissedAssignments: v.MissedAssignments,
		}); err != nil {
			return false, err
		}
	}
	return jailed, k.Validators.Set(ctx, addr, v)
}

// SlashBond takes fraction of a validator's bond for misbehaviour found by another module
// (x/market, x/bct). The coins go to recipientModule, or are burned when it is empty.
func (k Keeper) SlashBond(ctx context.Context, addr sdk.AccAddress, fraction sdkmath.LegacyDec, recipientModule, reason string) (sdk.Coin, error) {
	v, err := k.GetValidator(ctx, addr)
	if err != nil {
		return sdk.Coin{}, err
	}
	amt, err := k.slash(ctx, &v, fraction, recipientModule, reason)
	if err != nil {
		return sdk.Coin{}, err
	}
	return amt, k.Validators.Set(ctx, addr, v)
}

// slash lowers v.Bond by fraction (truncated) and moves the coins; v is not stored.
func (k Keeper) slash(ctx context.Context, v *types.Validator, fraction sdkmath.LegacyDec, recipientModule, reason string) (sdk.Coin, error) {
	if fraction.IsNil() || fraction.IsNegative() || fraction.GT(sdkmath.LegacyOneDec()) {
		return sdk.Coin{}, errorsmod.Wrapf(types.ErrInvalidAmount, "slash fraction %v not in [0, 1]", fraction)
	}
	amt := sdk.NewCoin(v.Bond.Denom, sdkmath.LegacyNewDecFromInt(v.Bond.Amount).Mul(fraction).TruncateInt())
	if amt.IsZero() {
		return amt, nil
	}
	coins := sdk.NewCoins(amt)
	if recipientModule == "" {
		if err := k.bank.BurnCoins(ctx, types.ModuleName, coins); err != nil {
			return sdk.Coin{}, errorsmod.Wrap(err, "burning slashed bond")
		}
	} else if err := k.bank.SendCoinsFromModuleToModule(ctx, types.ModuleName, recipientModule, coins); err != nil {
		return sdk.Coin{}, errorsmod.Wrapf(err, "sending slashed bond to %s", recipientModule)
	}
	v.Bond = v.Bond.Sub(amt)
	return amt, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventValidatorSlashed{
		Operator: v.Operator, Amount: amt, Reason: reason,
	})
}

// SetEfficiency stores the efficiency factor x/bct computed (moving average of r_i). A
// validator that has meanwhile unbonded and left is skipped: it has no weight to adjust, and
// failing would abort the claim's completion for everybody else.
func (k Keeper) SetEfficiency(ctx context.Context, addr sdk.AccAddress, eff sdkmath.LegacyDec) error {
	if eff.IsNil() || eff.IsNegative() {
		return errorsmod.Wrapf(types.ErrInvalidAmount, "efficiency %v must be >= 0", eff)
	}
	v, err := k.Validators.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	v.Efficiency = eff
	return k.Validators.Set(ctx, addr, v)
}

// TotalBonded sums all bonds (the module account must hold exactly this).
func (k Keeper) TotalBonded(ctx context.Context) (sdk.Coins, error) {
	total := sdk.NewCoins()
	err := k.Validators.Walk(ctx, nil, func(_ sdk.AccAddress, v types.Validator) (bool, error) {
		total = total.Add(v.Bond)
		return false, nil
	})
	return total, err
}

// EndBlocker returns the bonds whose unbonding period ended at or before this height.
func (k Keeper) EndBlocker(ctx context.Context) error {
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	// Every key with height <= this block's sorts before (height+1, empty address).
	rng := new(collections.Range[collections.Pair[int64, sdk.AccAddress]]).
		EndExclusive(collections.Join(height+1, sdk.AccAddress{}))
	var done []collections.Pair[int64, sdk.AccAddress]
	if err := k.UnbondingQueue.Walk(ctx, rng, func(key collections.Pair[int64, sdk.AccAddress]) (bool, error) {
		done = append(done, key)
		return false, nil
	}); err != nil {
		return err
	}
	for _, key := range done {
		if err := k.UnbondingQueue.Remove(ctx, key); err != nil {
			return err
		}
		v, err := k.Validators.Get(ctx, key.K2())
		if errors.Is(err, collections.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if v.Status != types.VALIDATOR_STATUS_UNBONDING || v.UnbondingHeight != key.K1() {
			continue // stale queue entry
		}
		if v.Bond.IsPositive() {
			if err := k.bank.SendCoinsFromModuleToAccount(ctx, types.ModuleName, key.K2(), sdk.NewCoins(v.Bond)); err != nil {
				return errorsmod.Wrapf(err, "returning bond of %s", v.Operator)
			}
		}
		if err := k.removeValidator(ctx, v); err != nil {
			return err
		}
		if err := sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventValidatorUnbonded{
			Operator: v.Operator, Returned: v.Bond,
		}); err != nil {
			return err
		}
	}
	return nil
}
