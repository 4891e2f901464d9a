package simulation_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/app"
	"github.com/buildchain/buildchain/app/simtest"
	bctkeeper "github.com/buildchain/buildchain/x/bct/keeper"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	marketkeeper "github.com/buildchain/buildchain/x/market/keeper"
	markettypes "github.com/buildchain/buildchain/x/market/types"
	valkeeper "github.com/buildchain/buildchain/x/validators/keeper"
	valtypes "github.com/buildchain/buildchain/x/validators/types"
)

// TestSimulateAllFourModules runs the SDK simulator for 500+ blocks on the real app with the
// random Msgs of x/validators, x/claims and x/market (x/bct has no user Msgs: it mints, pays
// and burns in EndBlock and through the others' verdicts), checking the invariants of all
// four modules (bonds, locked deposits and queues, locked stakes, supply schedule, the bct
// module account and the rewardable-time sum) about once per block and at the end.
func TestSimulateAllFourModules(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation: skipped with -short")
	}
	blocks := 520
	for _, seed := range simtest.Seeds(t, 11) {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { simulate(t, seed, blocks) })
	}
}

func simulate(t *testing.T, seed int64, blocks int) {
	modules := []string{valtypes.ModuleName, claimstypes.ModuleName, markettypes.ModuleName, bcttypes.ModuleName}
	r := simtest.Run(t, seed, blocks, modules, func(a *app.App) map[string]sdk.Invariant {
		return map[string]sdk.Invariant{
			"validators/bonded-balance": valkeeper.BondedBalanceInvariant(a.ValidatorsKeeper),
			"claims/locked-deposits":    claimskeeper.LockedDepositsInvariant(a.ClaimsKeeper),
			"claims/queues":             claimskeeper.QueuesInvariant(a.ClaimsKeeper),
			"market/locked-stakes":      marketkeeper.LockedStakesInvariant(a.MarketKeeper, a.AccountKeeper),
			"bct/supply-schedule":       bctkeeper.SupplyInvariant(a.BctKeeper),
			"bct/module-account":        bctkeeper.ModuleAccountInvariant(a.BctKeeper),
			"bct/rewardable-sum":        bctkeeper.RewardableSumInvariant(a.BctKeeper),
		}
	})
	a, ctx, checks := r.App, r.Ctx, r.Checks
	require.GreaterOrEqual(t, a.LastBlockHeight(), int64(500))

	// Coverage: markets were played to every kind of end, periods paid out.
	outcomes := map[string]int{}
	open := 0
	require.NoError(t, a.MarketKeeper.Markets.Walk(ctx, nil, func(_ uint64, m markettypes.Market) (bool, error) {
		if m.Status == markettypes.MARKET_STATUS_OPEN {
			open++
		} else {
			outcomes[fmt.Sprintf("%s/%s", m.Outcome, m.Reason)]++
		}
		return false, nil
	}))
	periods, paid := 0, 0
	require.NoError(t, a.BctKeeper.PeriodRecords.Walk(ctx, nil, func(_ uint64, r bcttypes.PeriodRecord) (bool, error) {
		periods++
		if r.PaidValidators > 0 {
			paid++
		}
		return false, nil
	}))
	totals, err := a.BctKeeper.Totals.Get(ctx)
	require.NoError(t, err)
	params, err := a.BctKeeper.Params.Get(ctx)
	require.NoError(t, err)
	t.Logf("height %d, %d invariant checks; markets resolved by outcome/reason %v, %d open; %d periods of %d blocks (%d paid validators); minted %s, burned %s",
		ctx.BlockHeight(), checks, outcomes, open, periods, params.PaymentPeriodBlocks, paid, totals.Minted, totals.Burned)
	require.Greater(t, checks, blocks, "invariants checked at least once per block on average")
	resolved := 0
	for _, n := range outcomes {
		resolved += n
	}
	require.Positive(t, resolved, "markets resolved")
	require.GreaterOrEqual(t, len(outcomes), 2, "more than one kind of market end")
	require.GreaterOrEqual(t, periods, 2, "payment periods ended")
	require.True(t, totals.Minted.IsPositive(), "inflation minted")
}
