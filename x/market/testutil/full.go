package testutil

import (
	"context"
	"testing"

	"cosmossdk.io/log"
	storetypes "cosmossdk.io/store/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	"github.com/cosmos/cosmos-sdk/runtime"
	sdktestutil "github.com/cosmos/cosmos-sdk/testutil"
	sdk "github.com/cosmos/cosmos-sdk/types"
	moduletestutil "github.com/cosmos/cosmos-sdk/types/module/testutil"
	"github.com/cosmos/cosmos-sdk/x/auth"
	authkeeper "github.com/cosmos/cosmos-sdk/x/auth/keeper"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	"github.com/cosmos/cosmos-sdk/x/bank"
	bankkeeper "github.com/cosmos/cosmos-sdk/x/bank/keeper"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"
	minttypes "github.com/cosmos/cosmos-sdk/x/mint/types"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"

	bctkeeper "github.com/buildchain/buildchain/x/bct/keeper"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	"github.com/buildchain/buildchain/x/claims"
	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	marketkeeper "github.com/buildchain/buildchain/x/market/keeper"
	markettypes "github.com/buildchain/buildchain/x/market/types"
	"github.com/buildchain/buildchain/x/validators"
	validatorskeeper "github.com/buildchain/buildchain/x/validators/keeper"
	validatorstypes "github.com/buildchain/buildchain/x/validators/types"
)

// Full is the real stack of all four buildchain modules on real x/auth and x/bank, wired as
// app.go wires them (hooks, setters, end-block order), for integration tests of the whole
// game: claim, reports, dispute, market, verdict, slashes, rewards.
type Full struct {
	Ctx        sdk.Context
	AK         authkeeper.AccountKeeper
	BK         bankkeeper.BaseKeeper
	Validators validatorskeeper.Keeper
	Claims     claimskeeper.Keeper
	Bct        bctkeeper.Keeper
	Market     marketkeeper.Keeper
	Authority  string
}

// NewFull builds the stack at height 1 with default genesis of every module.
func NewFull(t testing.TB) *Full {
	t.Helper()
	enc := moduletestutil.MakeTestEncodingConfig(auth.AppModuleBasic{}, bank.AppModuleBasic{}, validators.AppModuleBasic{}, claims.AppModuleBasic{})
	bcttypes.RegisterInterfaces(enc.InterfaceRegistry)
	markettypes.RegisterInterfaces(enc.InterfaceRegistry)
	cdc := enc.Codec
	keys := storetypes.NewKVStoreKeys(authtypes.StoreKey, banktypes.StoreKey, validatorstypes.StoreKey, claimstypes.StoreKey,
		bcttypes.StoreKey, markettypes.StoreKey)
	ctx := sdktestutil.DefaultContextWithKeys(keys, map[string]*storetypes.TransientStoreKey{}, map[string]*storetypes.MemoryStoreKey{}).
		WithBlockHeader(cmtproto.Header{Height: 1, ChainID: "buildchain-test"})
	prefix := sdk.GetConfig().GetBech32AccountAddrPrefix()
	authority := authtypes.NewModuleAddress("gov").String()
	perms := map[string][]string{
		minttypes.ModuleName:       {authtypes.Minter},
		authtypes.FeeCollectorName: nil,
		validatorstypes.ModuleName: {authtypes.Burner},
		claimstypes.ModuleName:     {authtypes.Burner},
		markettypes.ModuleName:     {authtypes.Burner},
		bcttypes.ModuleName:        {authtypes.Minter, authtypes.Burner},
		bcttypes.DevFundName:       nil,
	}
	ak := authkeeper.NewAccountKeeper(cdc, runtime.NewKVStoreService(keys[authtypes.StoreKey]), authtypes.ProtoBaseAccount,
		perms, addresscodec.NewBech32Codec(prefix), prefix, authority)
	bk := bankkeeper.NewBaseKeeper(cdc, runtime.NewKVStoreService(keys[banktypes.StoreKey]), ak, map[string]bool{}, authority, log.NewNopLogger())
	for name := range perms {
		ak.GetModuleAccount(ctx, name)
	}
	f := &Full{Ctx: ctx, AK: ak, BK: bk, Authority: authority}
	f.Validators = validatorskeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[validatorstypes.StoreKey]), authority, bk, noAuthorities{})
	f.Claims = claimskeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[claimstypes.StoreKey]), authority, bk, f.Validators)
	f.Bct = bctkeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[bcttypes.StoreKey]), authority, ak, bk)
	f.Market = marketkeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[markettypes.StoreKey]), authority, ak, bk, f.Bct)
	// As in app.go.
	f.Market.SetClaimsKeeper(f.Claims)
	f.Market.SetValidatorsKeeper(f.Validators)
	f.Bct.SetValidatorsKeeper(f.Validators)
	f.Claims.SetHooks(claimstypes.MultiClaimsHooks{f.Market.Hooks(), f.Bct.Hooks()})
	must := func(err error) {
		if err != nil {
			t.Fatalf("genesis: %v", err)
		}
	}
	must(f.Validators.InitGenesis(ctx, validatorstypes.DefaultGenesis()))
	must(f.Claims.InitGenesis(ctx, claimstypes.DefaultGenesis()))
	must(f.Bct.InitGenesis(ctx, bcttypes.DefaultGenesis()))
	must(f.Market.InitGenesis(ctx, markettypes.DefaultGenesis()))
	return f
}

// Fund mints n ubct to addr (before the first EndBlock: genesis balances).
func (f *Full) Fund(t testing.TB, addr sdk.AccAddress, n int64) {
	t.Helper()
	if err := f.BK.MintCoins(f.Ctx, minttypes.ModuleName, Coins(n)); err != nil {
		t.Fatal(err)
	}
	if err := f.BK.SendCoinsFromModuleToAccount(f.Ctx, minttypes.ModuleName, addr, Coins(n)); err != nil {
		t.Fatal(err)
	}
}

// Balance is addr's ubct balance.
func (f *Full) Balance(addr sdk.AccAddress) int64 {
	return f.BK.GetBalance(f.Ctx, addr, "ubct").Amount.Int64()
}

// EndBlock runs the end blockers in the app's order (claims, validators, market, bct).
func (f *Full) EndBlock(t testing.TB) {
	t.Helper()
	for _, fn := range []func() error{
		func() error { return f.Claims.EndBlocker(f.Ctx) },
		func() error { return f.Validators.EndBlocker(f.Ctx) },
		func() error { return f.Market.EndBlocker(f.Ctx) },
		func() error { return f.Bct.EndBlocker(f.Ctx) },
	} {
		if err := fn(); err != nil {
			t.Fatalf("EndBlocker at %d: %v", f.Ctx.BlockHeight(), err)
		}
	}
}

// NextBlock ends the current block and starts the next with the given beacon randomness.
func (f *Full) NextBlock(t testing.TB, randomness []byte) {
	t.Helper()
	f.EndBlock(t)
	f.Ctx = f.Ctx.WithBlockHeight(f.Ctx.BlockHeight() + 1).WithEventManager(sdk.NewEventManager())
	if err := f.Validators.SetBlockRandomness(f.Ctx, randomness); err != nil {
		t.Fatal(err)
	}
}

// Invariants are every module's invariants.
func (f *Full) Invariants() map[string]sdk.Invariant {
	return map[string]sdk.Invariant{
		"validators/bonded-balance": validatorskeeper.BondedBalanceInvariant(f.Validators),
		"claims/locked-deposits":    claimskeeper.LockedDepositsInvariant(f.Claims),
		"claims/queues":             claimskeeper.QueuesInvariant(f.Claims),
		"market/locked-stakes":      marketkeeper.LockedStakesInvariant(f.Market, f.AK),
		"bct/supply-schedule":       bctkeeper.SupplyInvariant(f.Bct),
		"bct/module-account":        bctkeeper.ModuleAccountInvariant(f.Bct),
		"bct/rewardable-sum":        bctkeeper.RewardableSumInvariant(f.Bct),
	}
}

// CheckInvariants fails the test on a broken invariant.
func (f *Full) CheckInvariants(t testing.TB) {
	t.Helper()
	for name, inv := range f.Invariants() {
		if msg, broken := inv(f.Ctx); broken {
			t.Fatalf("invariant %s broken: %s", name, msg)
		}
	}
}

// CID returns a canonical CIDv1 (sha2-256, base32) of data with the given codec
// (cid.DagJSON for derivations, cid.Raw or cid.DagProtobuf for outputs).
func CID(t testing.TB, codec uint64, data string) string {
	t.Helper()
	sum, err := mh.Sum([]byte(data), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(codec, sum).String()
}

// noAuthorities is a staking keeper without consensus authorities: the integration tests
// set the block randomness directly instead of running the VRF beacon.
type noAuthorities struct{}

func (noAuthorities) GetValidator(_ context.Context, addr sdk.ValAddress) (stakingtypes.Validator, error) {
	return stakingtypes.Validator{}, stakingtypes.ErrNoValidatorFound.Wrapf("%s", addr)
}
