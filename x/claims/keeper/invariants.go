package keeper

import (
	"fmt"

	"cosmossdk.io/collections"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/claims/types"
)

// RegisterInvariants registers the module's invariants.
func RegisterInvariants(ir sdk.InvariantRegistry, k Keeper) {
	ir.RegisterRoute(types.ModuleName, "locked-deposits", LockedDepositsInvariant(k))
	ir.RegisterRoute(types.ModuleName, "queues", QueuesInvariant(k))
}

// LockedDepositsInvariant checks that the module account holds exactly the deposits still
// locked in claims plus the claim fees of the current block not yet forwarded (none between
// blocks).
func LockedDepositsInvariant(k Keeper) sdk.Invariant {
	return func(ctx sdk.Context) (string, bool) {
		locked, err := k.TotalLocked(ctx)
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "locked-deposits", err.Error()), true
		}
		params, err := k.Params.Get(ctx)
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "locked-deposits", err.Error()), true
		}
		fees, err := k.PendingBlockFees(ctx)
		if err != nil {
			return sdk.FormatInvariant(types.ModuleName, "locked-deposits", err.Error()), true
		}
		denom := params.MinDeposit.Denom
		held := k.bank.GetBalance(ctx, k.ModuleAddress(), denom)
		want := locked.AmountOf(denom).Add(fees.AmountOf(denom))
		return sdk.FormatInvariant(types.ModuleName, "locked-deposits",
			fmt.Sprintf("module account holds %s, locked deposits + unforwarded fees sum to %s%s", held, want, denom)), !held.Amount.Equal(want)
	}
}

// QueuesInvariant checks that every PENDING claim is queued for assignment, every ASSIGNED
// claim has exactly one open assignment, and exactly the REVEALING claims are queued for their
// reveal deadline.
func QueuesInvariant(k Keeper) sdk.Invariant {
	return func(ctx sdk.Context) (string, bool) {
		var problems []string
		err := k.Claims.Walk(ctx, nil, func(id uint64, c types.Claim) (bool, error) {
			queued, err := k.Pending.Has(ctx, id)
			if err != nil {
				return true, err
			}
			if queued != (c.Status == types.CLAIM_STATUS_PENDING) {
				problems = append(problems, fmt.Sprintf("claim %d is %s but queued=%v", id, c.Status.Short(), queued))
			}
			revealQueued, err := k.RevealDeadlines.Has(ctx, collections.Join(c.RevealDeadline, id))
			if err != nil {
				return true, err
			}
			if revealQueued != (c.Status == types.CLAIM_STATUS_REVEALING) {
				problems = append(problems, fmt.Sprintf("claim %d is %s with reveal deadline %d queued=%v", id, c.Status.Short(), c.RevealDeadline, revealQueued))
			}
			if c.Status == types.CLAIM_STATUS_REVEALING && c.Rounds == 0 {
				problems = append(problems, fmt.Sprintf("claim %d is revealing with no rounds drawn", id))
			}
			i := c.OpenAssignment()
			if (c.Status == types.CLAIM_STATUS_ASSIGNED) != (i >= 0) {
				problems = append(problems, fmt.Sprintf("claim %d is %s with open assignment %d", id, c.Status.Short(), i))
			}
			return false, nil
		})
		if err != nil {
			problems = append(problems, err.Error())
		}
		return sdk.FormatInvariant(types.ModuleName, "queues", fmt.Sprintf("%d problems: %v", len(problems), problems)), len(problems) > 0
	}
}
