package simtest

import (
	"encoding/json"
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
	"github.com/cosmos/cosmos-sdk/codec"
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

// Result is a finished run: the app, a context at its last height, how many times the
// invariants were checked, and the simulation's accounts.
type Result struct {
	App      *app.App
	Ctx      sdk.Context
	Checks   int
	Accounts []simtypes.Account
}

// Run simulates blocks on a fresh app with the random operations of the named modules and
// checks the invariants that invariants(app) returns about once per block (as one more
// weighted operation) and after the last block; any broken invariant fails t.
func Run(t *testing.T, seed int64, blocks int, modules []string, invariants func(*app.App) map[string]sdk.Invariant) Result {
	return RunWith(t, Options{Seed: seed, Blocks: blocks, Modules: modules, Invariants: invariants})
}

// Options is what RunWith simulates.
type Options struct {
	Seed   int64
	Blocks int
	// BlockSize is the operations per block (the SDK varies it from block to block); 30 if 0.
	BlockSize int
	// Accounts is the number of simulation accounts; 0 lets the SDK draw it (2 to 2500).
	Accounts int
	// Modules whose random operations run (their WeightedOperations).
	Modules []string
	// Ops are more operations, made once the app exists (e.g. a chosen population's).
	Ops func(a *app.App) []simtypes.WeightedOperation
	// PerBlock, if positive, runs Ops exactly PerBlock times in every block (drawn by weight)
	// instead of in the SDK's random block sizes, which have runs of a hundred empty blocks:
	// a game with deadlines then keeps its pace.
	PerBlock int
	// Genesis edits the genesis the SDK randomised (module name → JSON) before the chain starts,
	// with the accounts it was made for (e.g. Population.Genesis).
	Genesis func(cdc codec.JSONCodec, accs []simtypes.Account, state map[string]json.RawMessage)
	// Invariants are checked about once per block and after the last one (none: no check
	// operation either); with AtEndOnly, after the last block only (a check walks every claim).
	Invariants func(*app.App) map[string]sdk.Invariant
	AtEndOnly  bool
}

// RunWith simulates o.Blocks blocks on a fresh app: the SDK's simulator (random genesis,
// random block sizes and times, every tx signed and delivered through the app) with the named
// modules' operations and o.Ops, the genesis edited by o.Genesis, and o.Invariants checked
// about once per block (as one more weighted operation) and after the last block; any broken
// invariant or failed operation fails t.
func RunWith(t *testing.T, o Options) Result {
	if o.BlockSize == 0 {
		o.BlockSize = 30
	}
	config := simtypes.Config{
		ChainID: "buildchain-sim", Seed: o.Seed, NumBlocks: o.Blocks, BlockSize: o.BlockSize, Commit: true,
		InitialBlockHeight: 1, GenesisTime: time.Now().Unix(), DBBackend: "memdb", BlockMaxGas: -1,
	}
	a := app.New(log.NewNopLogger(), dbm.NewMemDB(), nil, true,
		simtestutil.NewAppOptionsWithFlagHome(t.TempDir()), baseapp.SetChainID(config.ChainID))
	// The app's auth simulation (authsims.RandomGenesisAccounts) creates vesting accounts,
	// whose types the app does not register otherwise.
	vestingtypes.RegisterInterfaces(a.InterfaceRegistry())

	simState := module.SimulationState{AppParams: make(simtypes.AppParams), Cdc: a.AppCodec(), TxConfig: a.TxConfig(), BondDenom: sdk.DefaultBondDenom}
	var ops []simtypes.WeightedOperation
	for _, name := range o.Modules {
		ops = append(ops, a.ModuleManager.Modules[name].(module.AppModuleSimulation).WeightedOperations(simState)...)
	}
	if o.Ops != nil {
		if o.PerBlock > 0 {
			ops = append(ops, everyBlock(o.PerBlock, o.Ops(a)))
		} else {
			ops = append(ops, o.Ops(a)...)
		}
	}
	invs := map[string]sdk.Invariant{}
	if o.Invariants != nil {
		invs = o.Invariants(a)
	}
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
	if len(invs) > 0 && !o.AtEndOnly {
		ops = append(ops, simulation.NewWeightedOperation(60, func(_ *rand.Rand, _ *baseapp.BaseApp, ctx sdk.Context, _ []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
			return simtypes.NoOpMsg("invariants", "check", "ok"), nil, check(ctx)
		}))
	}

	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stdout
	}
	var accounts []simtypes.Account
	randAccs := func(r *rand.Rand, n int) []simtypes.Account {
		if o.Accounts > 0 {
			n = o.Accounts
		}
		accounts = simtypes.RandomAccounts(r, n)
		return accounts
	}
	var edit func(map[string]json.RawMessage)
	if o.Genesis != nil {
		edit = func(state map[string]json.RawMessage) { o.Genesis(a.AppCodec(), accounts, state) }
	}
	_, _, err := simulation.SimulateFromSeed(t, w, a.BaseApp,
		simtestutil.AppStateFnWithExtendedCb(a.AppCodec(), a.SimulationManager(), a.DefaultGenesis(), edit),
		randAccs, ops, app.BlockedAddresses(), config, a.AppCodec())
	require.NoError(t, err)

	ctx := a.NewContext(true).WithBlockHeight(a.LastBlockHeight())
	require.NoError(t, check(ctx))
	return Result{App: a, Ctx: ctx, Checks: checks, Accounts: accounts}
}

// everyBlock is one operation that, the first time it runs, starts running n of ops (drawn by
// weight) in every following block, as a queued operation that queues itself for the next
// height. Later draws of it do nothing.
func everyBlock(n int, ops []simtypes.WeightedOperation) simtypes.WeightedOperation {
	total := 0
	for _, op := range ops {
		total += op.Weight()
	}
	var step func(height int64) simtypes.FutureOperation
	step = func(height int64) simtypes.FutureOperation {
		return simtypes.FutureOperation{BlockHeight: int(height), Op: func(r *rand.Rand, bapp *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, chainID string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
			for i := 0; i < n; i++ {
				w := r.Intn(total)
				for _, op := range ops {
					if w -= op.Weight(); w < 0 {
						if _, _, err := op.Op()(r, bapp, ctx, accs, chainID); err != nil {
							return simtypes.NoOpMsg("simtest", "block", err.Error()), nil, err
						}
						break
					}
				}
			}
			return simtypes.NoOpMsg("simtest", "block", "ok"), []simtypes.FutureOperation{step(ctx.BlockHeight() + 1)}, nil
		}}
	}
	started := false
	return simulation.NewWeightedOperation(1, func(_ *rand.Rand, _ *baseapp.BaseApp, ctx sdk.Context, _ []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		if started {
			return simtypes.NoOpMsg("simtest", "start", "started"), nil, nil
		}
		started = true
		return simtypes.NoOpMsg("simtest", "start", "ok"), []simtypes.FutureOperation{step(ctx.BlockHeight() + 1)}, nil
	})
}
