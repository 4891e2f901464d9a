package simulation_test

import (
	"fmt"
	"io"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"cosmossdk.io/log"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/stretchr/testify/require"

	"github.com/cosmos/cosmos-sdk/baseapp"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/module"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"
	vestingtypes "github.com/cosmos/cosmos-sdk/x/auth/vesting/types"
	"github.com/cosmos/cosmos-sdk/x/simulation"

	"github.com/buildchain/buildchain/app"
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
	// One seed keeps `make test` reasonable; BUILDCHAIN_SIM_SEEDS="7 42 99" runs more.
	seeds := []int64{11}
	if env := os.Getenv("BUILDCHAIN_SIM_SEEDS"); env != "" {
		seeds = nil
		for _, f := range strings.Fields(env) {
			s, err := strconv.ParseInt(f, 10, 64)
			require.NoError(t, err, "BUILDCHAIN_SIM_SEEDS")
			seeds = append(seeds, s)
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { simulate(t, seed, blocks) })
	}
}

func simulate(t *testing.T, seed int64, blocks int) {
	config := simtypes.Config{
		ChainID: "buildchain-sim", Seed: seed, NumBlocks: blocks, BlockSize: 30, Commit: true,
		InitialBlockHeight: 1, GenesisTime: time.Now().Unix(), DBBackend: "memdb", BlockMaxGas: -1,
	}
	a := app.New(log.NewNopLogger(), dbm.NewMemDB(), nil, true,
		simtestutil.NewAppOptionsWithFlagHome(t.TempDir()), baseapp.SetChainID(config.ChainID))
	// The app's auth simulation creates vesting accounts, whose types the app does not
	// register otherwise.
	vestingtypes.RegisterInterfaces(a.InterfaceRegistry())

	simState := module.SimulationState{AppParams: make(simtypes.AppParams), Cdc: a.AppCodec(), TxConfig: a.TxConfig(), BondDenom: sdk.DefaultBondDenom}
	var ops []simtypes.WeightedOperation
	for _, name := range []string{valtypes.ModuleName, claimstypes.ModuleName, markettypes.ModuleName, bcttypes.ModuleName} {
		ops = append(ops, a.ModuleManager.Modules[name].(module.AppModuleSimulation).WeightedOperations(simState)...)
	}
	invariants := map[string]sdk.Invariant{
		"validators/bonded-balance": valkeeper.BondedBalanceInvariant(a.ValidatorsKeeper),
		"claims/locked-deposits":    claimskeeper.LockedDepositsInvariant(a.ClaimsKeeper),
		"claims/queues":             claimskeeper.QueuesInvariant(a.ClaimsKeeper),
		"market/locked-stakes":      marketkeeper.LockedStakesInvariant(a.MarketKeeper, a.AccountKeeper),
		"bct/supply-schedule":       bctkeeper.SupplyInvariant(a.BctKeeper),
		"bct/module-account":        bctkeeper.ModuleAccountInvariant(a.BctKeeper),
		"bct/rewardable-sum":        bctkeeper.RewardableSumInvariant(a.BctKeeper),
	}
	checks := 0
	check := func(ctx sdk.Context) error {
		checks++
		for name, inv := range invariants {
			if msg, broken := inv(ctx); broken {
				return fmt.Errorf("invariant %s broken at height %d: %s", name, ctx.BlockHeight(), msg)
			}
		}
		return nil
	}
	ops = append(ops, simulation.NewWeightedOperation(60, func(_ *rand.Rand, _ *baseapp.BaseApp, ctx sdk.Context, _ []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		return simtypes.NoOpMsg("invariants", "check", "ok"), nil, check(ctx)
	}))

	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stdout
	}
	_, _, err := simulation.SimulateFromSeed(t, w, a.BaseApp,
		simtestutil.AppStateFn(a.AppCodec(), a.SimulationManager(), a.DefaultGenesis()),
		simtypes.RandomAccounts, ops, app.BlockedAddresses(), config, a.AppCodec())
	require.NoError(t, err)

	require.GreaterOrEqual(t, a.LastBlockHeight(), int64(500))
	ctx := a.NewContext(true).WithBlockHeight(a.LastBlockHeight())
	require.NoError(t, check(ctx))

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
