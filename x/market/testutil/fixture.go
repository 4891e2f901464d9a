package testutil

import (
	"context"
	"fmt"
	"testing"

	"cosmossdk.io/log"
	sdkmath "cosmossdk.io/math"
	storetypes "cosmossdk.io/store/types"

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
	banktestutil "github.com/cosmos/cosmos-sdk/x/bank/testutil"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"
	minttypes "github.com/cosmos/cosmos-sdk/x/mint/types"

	appparams "github.com/buildchain/buildchain/app/params"
	bctkeeper "github.com/buildchain/buildchain/x/bct/keeper"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	marketkeeper "github.com/buildchain/buildchain/x/market/keeper"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

// Module accounts of the stand-ins.
const (
	ClaimsModule     = "fake_claims"
	ValidatorsModule = "fake_validators"
)

// Fixture is the in-memory stack.
type Fixture struct {
	Ctx        sdk.Context
	AK         authkeeper.AccountKeeper
	BK         bankkeeper.BaseKeeper
	Bct        bctkeeper.Keeper
	Market     marketkeeper.Keeper
	Claims     *FakeClaims
	Validators *FakeValidators
	Authority  string
}

// New builds the stack at height 1 with default params.
func New(t testing.TB) *Fixture {
	t.Helper()
	enc := moduletestutil.MakeTestEncodingConfig(auth.AppModuleBasic{}, bank.AppModuleBasic{})
	bcttypes.RegisterInterfaces(enc.InterfaceRegistry)
	markettypes.RegisterInterfaces(enc.InterfaceRegistry)
	cdc := enc.Codec

	keys := storetypes.NewKVStoreKeys(authtypes.StoreKey, banktypes.StoreKey, bcttypes.StoreKey, markettypes.StoreKey)
	ctx := sdktestutil.DefaultContextWithKeys(keys, map[string]*storetypes.TransientStoreKey{}, map[string]*storetypes.MemoryStoreKey{})
	ctx = ctx.WithBlockHeight(1)

	prefix := sdk.GetConfig().GetBech32AccountAddrPrefix()
	authority := authtypes.NewModuleAddress("gov").String()
	perms := map[string][]string{
		minttypes.ModuleName:   {authtypes.Minter},
		bcttypes.ModuleName:    {authtypes.Minter, authtypes.Burner},
		bcttypes.DevFundName:   nil,
		markettypes.ModuleName: {authtypes.Burner},
		ClaimsModule:           nil,
		ValidatorsModule:       nil,
	}
	ak := authkeeper.NewAccountKeeper(cdc, runtime.NewKVStoreService(keys[authtypes.StoreKey]), authtypes.ProtoBaseAccount,
		perms, addresscodec.NewBech32Codec(prefix), prefix, authority)
	bk := bankkeeper.NewBaseKeeper(cdc, runtime.NewKVStoreService(keys[banktypes.StoreKey]), ak, map[string]bool{}, authority, log.NewNopLogger())
	for name := range perms {
		ak.GetModuleAccount(ctx, name) // creates it
	}
	bct := bctkeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[bcttypes.StoreKey]), authority, ak, bk)
	mk := marketkeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[markettypes.StoreKey]), authority, ak, bk, bct)
	f := &Fixture{Ctx: ctx, AK: ak, BK: bk, Bct: bct, Market: mk, Authority: authority}
	f.Claims = &FakeClaims{f: f, Deposits: map[uint64]sdkmath.Int{}, Claims: map[uint64]claimstypes.Claim{}}
	f.Validators = &FakeValidators{f: f, Bonds: map[string]sdkmath.Int{}}
	mk.SetClaimsKeeper(f.Claims)
	mk.SetValidatorsKeeper(f.Validators)
	if err := bct.InitGenesis(ctx, bcttypes.DefaultGenesis()); err != nil {
		t.Fatalf("bct genesis: %v", err)
	}
	if err := mk.InitGenesis(ctx, markettypes.DefaultGenesis()); err != nil {
		t.Fatalf("market genesis: %v", err)
	}
	return f
}

// Coins is n ubct.
func Coins(n int64) sdk.Coins { return sdk.NewCoins(sdk.NewInt64Coin(appparams.BondDenom, n)) }

// Addr is a deterministic test address.
func Addr(name string) sdk.AccAddress {
	return authtypes.NewModuleAddress("test/" + name)
}

// Fund gives addr n ubct (minted by the test-only mint module account).
func (f *Fixture) Fund(t testing.TB, addr sdk.AccAddress, n int64) {
	t.Helper()
	if err := banktestutil.FundAccount(f.Ctx, f.BK, addr, Coins(n)); err != nil {
		t.Fatalf("funding %s: %v", addr, err)
	}
}

// Balance is addr's ubct balance.
func (f *Fixture) Balance(addr sdk.AccAddress) sdkmath.Int {
	return f.BK.GetBalance(f.Ctx, addr, appparams.BondDenom).Amount
}

// ModuleBalance is a module account's ubct balance.
func (f *Fixture) ModuleBalance(name string) sdkmath.Int {
	return f.Balance(f.AK.GetModuleAddress(name))
}

// Supply is the ubct supply.
func (f *Fixture) Supply() sdkmath.Int { return f.BK.GetSupply(f.Ctx, appparams.BondDenom).Amount }

// SetHeight moves the context to height h.
func (f *Fixture) SetHeight(h int64) { f.Ctx = f.Ctx.WithBlockHeight(h) }

// EndBlock runs the market then the bct EndBlocker (the app's order) at the current height.
func (f *Fixture) EndBlock(t testing.TB) {
	t.Helper()
	if err := f.Market.EndBlocker(f.Ctx); err != nil {
		t.Fatalf("market EndBlocker: %v", err)
	}
	if err := f.Bct.EndBlocker(f.Ctx); err != nil {
		t.Fatalf("bct EndBlocker: %v", err)
	}
}

// FakeClaims holds deposits in its module account and records verdicts, standing in for
// the x/claims keeper's market-facing methods.
type FakeClaims struct {
	f        *Fixture
	Deposits map[uint64]sdkmath.Int
	// Claims are returned by GetClaim (tests fill in the assignments they need).
	Claims   map[uint64]claimstypes.Claim
	Verdicts []Verdict
	// Fail makes ResolveDispute fail (to test that a failed resolution changes nothing).
	Fail bool
}

// Verdict is one ResolveDispute call.
type Verdict struct {
	ClaimID uint64
	Outcome claimstypes.DisputeOutcome
}

// LockDeposit moves n ubct from the publisher into the claims stand-in for claim id.
func (c *FakeClaims) LockDeposit(t testing.TB, id uint64, publisher sdk.AccAddress, n int64) {
	t.Helper()
	if err := c.f.BK.SendCoinsFromAccountToModule(c.f.Ctx, publisher, ClaimsModule, Coins(n)); err != nil {
		t.Fatalf("locking deposit: %v", err)
	}
	c.Deposits[id] = sdkmath.NewInt(n)
}

// GetClaim implements markettypes.ClaimsKeeper.
func (c *FakeClaims) GetClaim(_ context.Context, id uint64) (claimstypes.Claim, error) {
	cl, ok := c.Claims[id]
	if !ok {
		return cl, fmt.Errorf("claim %d not found", id)
	}
	return cl, nil
}

// ResolveDispute implements markettypes.ClaimsKeeper.
func (c *FakeClaims) ResolveDispute(_ context.Context, id uint64, o claimstypes.DisputeOutcome) error {
	if c.Fail {
		return fmt.Errorf("fake claims: refusing verdict")
	}
	c.Verdicts = append(c.Verdicts, Verdict{id, o})
	return nil
}

// SeizeDeposit implements markettypes.ClaimsKeeper.
func (c *FakeClaims) SeizeDeposit(ctx context.Context, id uint64, to string) (sdk.Coin, error) {
	d, ok := c.Deposits[id]
	if !ok || d.IsZero() {
		return sdk.Coin{}, fmt.Errorf("claim %d has no deposit", id)
	}
	coin := sdk.NewCoin(appparams.BondDenom, d)
	if err := c.f.BK.SendCoinsFromModuleToModule(ctx, ClaimsModule, to, sdk.NewCoins(coin)); err != nil {
		return sdk.Coin{}, err
	}
	c.Deposits[id] = sdkmath.ZeroInt()
	return coin, nil
}

// FakeValidators holds bonds in its module account.
type FakeValidators struct {
	f     *Fixture
	Bonds map[string]sdkmath.Int
}

// Bond moves n ubct from addr into the validators stand-in.
func (v *FakeValidators) Bond(t testing.TB, addr sdk.AccAddress, n int64) {
	t.Helper()
	if err := v.f.BK.SendCoinsFromAccountToModule(v.f.Ctx, addr, ValidatorsModule, Coins(n)); err != nil {
		t.Fatalf("bonding: %v", err)
	}
	v.Bonds[addr.String()] = sdkmath.NewInt(n)
}

// SlashBond implements markettypes.ValidatorsKeeper.
func (v *FakeValidators) SlashBond(ctx context.Context, addr sdk.AccAddress, fraction sdkmath.LegacyDec, to, _ string) (sdk.Coin, error) {
	b, ok := v.Bonds[addr.String()]
	if !ok {
		return sdk.Coin{}, fmt.Errorf("%s is not a validator", addr)
	}
	amt := sdk.NewCoin(appparams.BondDenom, sdkmath.LegacyNewDecFromInt(b).Mul(fraction).TruncateInt())
	if amt.IsPositive() {
		if err := v.f.BK.SendCoinsFromModuleToModule(ctx, ValidatorsModule, to, sdk.NewCoins(amt)); err != nil {
			return sdk.Coin{}, err
		}
	}
	v.Bonds[addr.String()] = b.Sub(amt.Amount)
	return amt, nil
}
