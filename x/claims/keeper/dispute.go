package keeper

import (
	"context"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/claims/types"
)

// ResolveDispute is called by x/market with its verdict on a DISPUTED claim. The claim's number
// of rounds was drawn at commit time, so a verdict never draws another round; the rounds are
// judged again (game.Evaluate): another dissent goes to its own market, a void round is
// played again (README.md §Blind rounds).
//   - NON_DETERMINISM: the dissenting round counts as agreeing.
//   - INCONCLUSIVE (the market reached no verdict: revealed stake below its quorum, or a tie):
//     the claim is not verified and ends EXPIRED, its deposit returned, nobody slashed for it
//     (finishExpired); the dissenting round stays DISAGREED. An unverified claim never becomes
//     VALID (README.md §Disputes).
//   - MISBEHAVIOUR_CLAIM: the claim becomes REJECTED; its deposit stays locked for SeizeDeposit.
//   - MISBEHAVIOUR_REPORT: the dissenting round is void (ROUND_STATUS_REJECTED) and played again
//     by another validator.
//
// Slashing the liars is the caller's business (x/validators Keeper.SlashBond, SeizeDeposit).
func (k Keeper) ResolveDispute(ctx context.Context, claimID uint64, outcome types.DisputeOutcome) error {
	c, err := k.GetClaim(ctx, claimID)
	if err != nil {
		return err
	}
	if c.Status != types.CLAIM_STATUS_DISPUTED {
		return errorsmod.Wrapf(types.ErrWrongStatus, "claim %d is %s, not disputed", c.Id, c.Status.Short())
	}
	i := c.DisputedAssignment()
	if i < 0 {
		return errorsmod.Wrapf(types.ErrWrongStatus, "claim %d has no disputing report", c.Id)
	}
	switch outcome {
	case types.OutcomeNonDeterminism:
		c.Assignments[i].Status = types.ROUND_STATUS_NON_DETERMINISM
	case types.OutcomeInconclusive:
	case types.OutcomeMisbehaviourReport:
		c.Assignments[i].Status = types.ROUND_STATUS_REJECTED
	case types.OutcomeMisbehaviourClaim:
	default:
		return errorsmod.Wrapf(types.ErrInvalidOutcome, "%d", int(outcome))
	}
	if err := sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventDisputeResolved{
		ClaimId: c.Id, Outcome: outcome.String(),
	}); err != nil {
		return err
	}
	if outcome == types.OutcomeMisbehaviourClaim {
		c.Status = types.CLAIM_STATUS_REJECTED
		c.FinishedHeight = sdk.UnwrapSDKContext(ctx).BlockHeight()
		if err := k.Claims.Set(ctx, c.Id, c); err != nil {
			return err
		}
		return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventClaimRejected{ClaimId: c.Id})
	}
	if outcome == types.OutcomeInconclusive {
		return k.finishExpired(ctx, &c)
	}
	return k.resolveBlind(ctx, &c)
}

// SeizeDeposit moves the locked deposit of a REJECTED claim to recipientModule (x/market or
// x/bct, which split it between exposers and burning). It can be done once.
func (k Keeper) SeizeDeposit(ctx context.Context, claimID uint64, recipientModule string) (sdk.Coin, error) {
	c, err := k.GetClaim(ctx, claimID)
	if err != nil {
		return sdk.Coin{}, err
	}
	if c.Status != types.CLAIM_STATUS_REJECTED {
		return sdk.Coin{}, errorsmod.Wrapf(types.ErrWrongStatus, "claim %d is %s; only a rejected claim's deposit can be seized", c.Id, c.Status.Short())
	}
	if !c.DepositLocked {
		return sdk.Coin{}, errorsmod.Wrapf(types.ErrDepositNotLocked, "claim %d", c.Id)
	}
	if c.Deposit.IsPositive() {
		if err := k.bank.SendCoinsFromModuleToModule(ctx, types.ModuleName, recipientModule, sdk.NewCoins(c.Deposit)); err != nil {
			return sdk.Coin{}, errorsmod.Wrapf(err, "seizing deposit of claim %d", c.Id)
		}
	}
	c.DepositLocked = false
	return c.Deposit, k.Claims.Set(ctx, c.Id, c)
}

// TotalLocked sums the deposits still locked (the module account must hold exactly this).
func (k Keeper) TotalLocked(ctx context.Context) (sdk.Coins, error) {
	total := sdk.NewCoins()
	err := k.Claims.Walk(ctx, nil, func(_ uint64, c types.Claim) (bool, error) {
		if c.DepositLocked {
			total = total.Add(c.Deposit)
		}
		return false, nil
	})
	return total, err
}
