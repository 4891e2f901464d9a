package simulation_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/app"
	"github.com/buildchain/buildchain/app/simtest"
	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	valkeeper "github.com/buildchain/buildchain/x/validators/keeper"
	valtypes "github.com/buildchain/buildchain/x/validators/types"
)

// TestSimulateValidatorsAndClaims runs the SDK simulator for 200+ blocks on the real app with
// random Msgs of x/validators (register, update, unbond, unjail) and x/claims (submit blind
// claims; commit and reveal: mostly agreeing, some dissenting, some never sent so deadlines
// expire; publishers' reveals, some never sent), checking the
// modules' invariants (bonds == validators module balance, locked deposits == claims module
// balance, queue consistency) many times per block and at the end.
func TestSimulateValidatorsAndClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation: skipped with -short")
	}
	blocks := 220 // ~30 s per seed
	for _, seed := range simtest.Seeds(t, 7) {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { simulate(t, seed, blocks) })
	}
}

func simulate(t *testing.T, seed int64, blocks int) {
	r := simtest.Run(t, seed, blocks, []string{valtypes.ModuleName, claimstypes.ModuleName},
		func(a *app.App) map[string]sdk.Invariant {
			return map[string]sdk.Invariant{
				"validators/bonded-balance": valkeeper.BondedBalanceInvariant(a.ValidatorsKeeper),
				"claims/locked-deposits":    claimskeeper.LockedDepositsInvariant(a.ClaimsKeeper),
				"claims/queues":             claimskeeper.QueuesInvariant(a.ClaimsKeeper),
			}
		})
	a, ctx, checks := r.App, r.Ctx, r.Checks
	require.GreaterOrEqual(t, a.LastBlockHeight(), int64(200))

	// Coverage: the run must have exercised the game, not just no-ops.
	byStatus := map[claimstypes.ClaimStatus]int{}
	rounds := map[claimstypes.RoundStatus]int{}
	blindValid, blindRejected := 0, 0
	require.NoError(t, a.ClaimsKeeper.Claims.Walk(ctx, nil, func(_ uint64, c claimstypes.Claim) (bool, error) {
		byStatus[c.Status]++
		for _, as := range c.Assignments {
			rounds[as.Status]++
		}
		if c.Status == claimstypes.CLAIM_STATUS_VALID {
			blindValid++
		}
		if c.Status == claimstypes.CLAIM_STATUS_REJECTED && !c.Revealed() {
			blindRejected++ // its publisher never revealed
		}
		return false, nil
	}))
	vals := map[valtypes.ValidatorStatus]int{}
	require.NoError(t, a.ValidatorsKeeper.Validators.Walk(ctx, nil, func(_ sdk.AccAddress, v valtypes.Validator) (bool, error) {
		vals[v.Status]++
		return false, nil
	}))
	t.Logf("height %d, %d invariant checks; claims by status %v (%d valid, %d rejected unrevealed); assignments by status %v; validators by status %v",
		ctx.BlockHeight(), checks, byStatus, blindValid, blindRejected, rounds, vals)
	require.Greater(t, checks, blocks, "invariants checked at least once per block on average")
	require.Positive(t, byStatus[claimstypes.CLAIM_STATUS_VALID], "some claims became VALID")
	// A dispute is DISPUTED until x/market decides it, then leaves its dissenting round
	// DISAGREED, NON_DETERMINISM or REJECTED: count both, since whether one is still open at
	// the last block is chance.
	disputes := byStatus[claimstypes.CLAIM_STATUS_DISPUTED] + rounds[claimstypes.ROUND_STATUS_DISAGREED] +
		rounds[claimstypes.ROUND_STATUS_NON_DETERMINISM] + rounds[claimstypes.ROUND_STATUS_REJECTED]
	require.Positive(t, disputes, "some claims were DISPUTED")
	require.Positive(t, rounds[claimstypes.ROUND_STATUS_AGREED])
	// Blind rounds: committed, revealed, some reveals missed, claims decided both ways.
	require.Positive(t, blindValid, "some claims became VALID")
	require.Positive(t, blindRejected, "some claims were rejected: publisher never revealed")
	require.Positive(t, rounds[claimstypes.ROUND_STATUS_REVEAL_MISSED], "some builders never revealed")
	require.Positive(t, len(vals), "validators registered")
}
