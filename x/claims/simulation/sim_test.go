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
	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	valkeeper "github.com/buildchain/buildchain/x/validators/keeper"
	valtypes "github.com/buildchain/buildchain/x/validators/types"
)

// TestSimulateValidatorsAndClaims runs the SDK simulator for 200+ blocks on the real app with
// random Msgs of x/validators (register, update, unbond, unjail) and x/claims (submit,
// report: mostly agreeing, some dissenting, some never sent so deadlines expire), checking the
// modules' invariants (bonds == validators module balance, locked deposits == claims module
// balance, queue consistency) many times per block and at the end.
func TestSimulateValidatorsAndClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation: skipped with -short")
	}
	blocks := 220
	// One seed keeps `make test` fast (~30 s); BUILDCHAIN_SIM_SEEDS="7 42 99" runs more.
	seeds := []int64{7}
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
	// The app's auth simulation (authsims.RandomGenesisAccounts) creates vesting accounts,
	// whose types the app does not register otherwise.
	vestingtypes.RegisterInterfaces(a.InterfaceRegistry())

	simState := module.SimulationState{AppParams: make(simtypes.AppParams), Cdc: a.AppCodec(), TxConfig: a.TxConfig(), BondDenom: sdk.DefaultBondDenom}
	var ops []simtypes.WeightedOperation
	for _, name := range []string{valtypes.ModuleName, claimstypes.ModuleName} {
		ops = append(ops, a.ModuleManager.Modules[name].(module.AppModuleSimulation).WeightedOperations(simState)...)
	}
	checks := 0
	invariants := map[string]sdk.Invariant{
		"validators/bonded-balance": valkeeper.BondedBalanceInvariant(a.ValidatorsKeeper),
		"claims/locked-deposits":    claimskeeper.LockedDepositsInvariant(a.ClaimsKeeper),
		"claims/queues":             claimskeeper.QueuesInvariant(a.ClaimsKeeper),
	}
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

	require.GreaterOrEqual(t, a.LastBlockHeight(), int64(200))
	ctx := a.NewContext(true).WithBlockHeight(a.LastBlockHeight())
	require.NoError(t, check(ctx))

	// Coverage: the run must have exercised the game, not just no-ops.
	byStatus := map[claimstypes.ClaimStatus]int{}
	rounds := map[claimstypes.RoundStatus]int{}
	require.NoError(t, a.ClaimsKeeper.Claims.Walk(ctx, nil, func(_ uint64, c claimstypes.Claim) (bool, error) {
		byStatus[c.Status]++
		for _, as := range c.Assignments {
			rounds[as.Status]++
		}
		return false, nil
	}))
	vals := map[valtypes.ValidatorStatus]int{}
	require.NoError(t, a.ValidatorsKeeper.Validators.Walk(ctx, nil, func(_ sdk.AccAddress, v valtypes.Validator) (bool, error) {
		vals[v.Status]++
		return false, nil
	}))
	t.Logf("height %d, %d invariant checks; claims by status %v; assignments by status %v; validators by status %v",
		ctx.BlockHeight(), checks, byStatus, rounds, vals)
	require.Greater(t, checks, blocks, "invariants checked at least once per block on average")
	require.Positive(t, byStatus[claimstypes.CLAIM_STATUS_VALID], "some claims became VALID")
	require.Positive(t, byStatus[claimstypes.CLAIM_STATUS_DISPUTED], "some claims were DISPUTED")
	require.Positive(t, rounds[claimstypes.ROUND_STATUS_AGREED])
	require.Positive(t, len(vals), "validators registered")
}
