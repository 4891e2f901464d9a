package simtest

import (
	"fmt"
	"io"
	"math/rand"
	"os"
	"sort"
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
)

// Seeds returns the seeds to simulate: def, or the ones in BUILDCHAIN_SIM_SEEDS ("7 42 99").
// One seed keeps `make test` reasonable.
func Seeds(t *testing.T, def int64) []int64 {
	env := os.Getenv("BUILDCHAIN_SIM_SEEDS")
	if env == "" {
		return []int64{def}
	}
	var seeds []int64
	for _, f := range strings.Fields(env) {
		s, err := strconv.ParseInt(f, 10, 64)
		require.NoError(t, err, "BUILDCHAIN_SIM_SEEDS")
		seeds = append(seeds, s)
	}
	return seeds
}

// Result is a finished run: the app, a context at its last height, and how many times the
// invariants were checked.
type Result struct {
	App    *app.App
	Ctx    sdk.Context
	Checks int
}

// Run simulates blocks on a fresh app with the random operations of the named modules and
// checks the invariants that invariants(app) returns about once per block (as one more
// weighted operation) and after the last block; any broken invariant fails t.
func Run(t *testing.T, seed int64, blocks int, modules []string, invariants func(*app.App) map[string]sdk.Invariant) Result {
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
	for _, name := range modules {
		ops = append(ops, a.ModuleManager.Modules[name].(module.AppModuleSimulation).WeightedOperations(simState)...)
	}
	invs := invariants(a)
	names := make([]string, 0, len(invs))
	for name := range invs {
		names = append(names, name)
	}
	sort.Strings(names)
	checks := 0
	check := func(ctx sdk.Context) error {
		checks++
		for _, name := range names {
			if msg, broken := invs[name](ctx); broken {
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

	ctx := a.NewContext(true).WithBlockHeight(a.LastBlockHeight())
	require.NoError(t, check(ctx))
	return Result{App: a, Ctx: ctx, Checks: checks}
}
