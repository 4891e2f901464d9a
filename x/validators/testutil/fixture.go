package testutil

import (
	"context"
	"fmt"
	"testing"

	storetypes "cosmossdk.io/store/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/stretchr/testify/require"

	"github.com/cosmos/cosmos-sdk/crypto/keys/ed25519"
	"github.com/cosmos/cosmos-sdk/runtime"
	sdktestutil "github.com/cosmos/cosmos-sdk/testutil"
	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"
	moduletestutil "github.com/cosmos/cosmos-sdk/types/module/testutil"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"

	"github.com/buildchain/buildchain/x/claims"
	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/validators"
	"github.com/buildchain/buildchain/x/validators/keeper"
	"github.com/buildchain/buildchain/x/validators/types"
)

// Bank is a ledger implementing the bank methods both modules use. Balances live in the
// fixture's multistore, so a cached context that is discarded (a failed Msg, an isolated
// EndBlock step) rolls transfers back exactly as with the real x/bank.
type Bank struct {
	key storetypes.StoreKey
	ctx func() sdk.Context // the fixture's current context, for Fund/Snapshot/Burned
}

var burnedKey = []byte("burned")

func (b *Bank) store(ctx context.Context) storetypes.KVStore {
	return sdk.UnwrapSDKContext(ctx).KVStore(b.key)
}

func (b *Bank) get(ctx context.Context, key []byte) sdk.Coins {
	bz := b.store(ctx).Get(key)
	if bz == nil {
		return sdk.NewCoins()
	}
	coins, err := sdk.ParseCoinsNormalized(string(bz))
	if err != nil {
		panic(err)
	}
	return coins
}

func (b *Bank) set(ctx context.Context, key []byte, coins sdk.Coins) {
	b.store(ctx).Set(key, []byte(coins.String()))
}

// Fund credits coins out of thin air (genesis funding).
func (b *Bank) Fund(addr sdk.AccAddress, coins sdk.Coins) {
	ctx := b.ctx()
	b.set(ctx, addr, b.get(ctx, addr).Add(coins...))
}

// Burned returns everything burned so far.
func (b *Bank) Burned() sdk.Coins { return b.get(b.ctx(), burnedKey) }

func (b *Bank) move(ctx context.Context, from, to sdk.AccAddress, amt sdk.Coins) error {
	have := b.get(ctx, from)
	left, neg := have.SafeSub(amt...)
	if neg {
		return sdkerrors.ErrInsufficientFunds.Wrapf("%s < %s", have, amt)
	}
	b.set(ctx, from, left)
	b.set(ctx, to, b.get(ctx, to).Add(amt...))
	return nil
}

// SendCoinsFromAccountToModule implements the bank keeper method.
func (b *Bank) SendCoinsFromAccountToModule(ctx context.Context, from sdk.AccAddress, module string, amt sdk.Coins) error {
	return b.move(ctx, from, authtypes.NewModuleAddress(module), amt)
}

// SendCoinsFromModuleToAccount implements the bank keeper method.
func (b *Bank) SendCoinsFromModuleToAccount(ctx context.Context, module string, to sdk.AccAddress, amt sdk.Coins) error {
	return b.move(ctx, authtypes.NewModuleAddress(module), to, amt)
}

// SendCoinsFromModuleToModule implements the bank keeper method.
func (b *Bank) SendCoinsFromModuleToModule(ctx context.Context, from, to string, amt sdk.Coins) error {
	return b.move(ctx, authtypes.NewModuleAddress(from), authtypes.NewModuleAddress(to), amt)
}

// BurnCoins implements the bank keeper method.
func (b *Bank) BurnCoins(ctx context.Context, module string, amt sdk.Coins) error {
	addr := authtypes.NewModuleAddress(module)
	have := b.get(ctx, addr)
	left, neg := have.SafeSub(amt...)
	if neg {
		return sdkerrors.ErrInsufficientFunds.Wrapf("burn %s of %s", amt, have)
	}
	b.set(ctx, addr, left)
	b.set(ctx, burnedKey, b.get(ctx, burnedKey).Add(amt...))
	return nil
}

// GetBalance implements the bank keeper method.
func (b *Bank) GetBalance(ctx context.Context, addr sdk.AccAddress, denom string) sdk.Coin {
	return sdk.NewCoin(denom, b.get(ctx, addr).AmountOf(denom))
}

// SpendableCoins implements the bank keeper method.
func (b *Bank) SpendableCoins(ctx context.Context, addr sdk.AccAddress) sdk.Coins {
	return b.get(ctx, addr)
}

// Snapshot copies all balances (to check that a failed Msg moved nothing).
func (b *Bank) Snapshot() map[string]string {
	out := map[string]string{}
	it := b.store(b.ctx()).Iterator(nil, nil)
	defer it.Close()
	for ; it.Valid(); it.Next() {
		out[string(it.Key())] = string(it.Value())
	}
	return out
}

// Staking maps operators to x/staking validators (consensus authorities).
type Staking struct {
	vals map[string]stakingtypes.Validator
}

// AddAuthority registers a consensus authority operated by op and returns its consensus address.
func (s *Staking) AddAuthority(t *testing.T, op sdk.AccAddress) sdk.ConsAddress {
	pk := ed25519.GenPrivKey().PubKey()
	v, err := stakingtypes.NewValidator(sdk.ValAddress(op).String(), pk, stakingtypes.Description{})
	require.NoError(t, err)
	s.vals[sdk.ValAddress(op).String()] = v
	return sdk.ConsAddress(pk.Address())
}

// GetValidator implements the staking keeper method.
func (s *Staking) GetValidator(_ context.Context, addr sdk.ValAddress) (stakingtypes.Validator, error) {
	v, ok := s.vals[addr.String()]
	if !ok {
		return v, fmt.Errorf("validator %s: %w", addr, stakingtypes.ErrNoValidatorFound)
	}
	return v, nil
}

// Fixture holds both keepers on one in-memory multistore.
type Fixture struct {
	Ctx        sdk.Context
	Bank       *Bank
	Staking    *Staking
	Validators keeper.Keeper
	Claims     claimskeeper.Keeper
	ValMsgs    types.MsgServer
	ClaimMsgs  claimstypes.MsgServer
	ValQuery   types.QueryServer
	ClaimQuery claimstypes.QueryServer
	Authority  sdk.AccAddress
}

// NewFixture builds the keepers with default genesis at height 1.
func NewFixture(t *testing.T) *Fixture {
	t.Helper()
	keys := storetypes.NewKVStoreKeys(types.StoreKey, claimstypes.StoreKey, "fakebank")
	ctx := sdktestutil.DefaultContextWithKeys(keys, map[string]*storetypes.TransientStoreKey{}, nil).
		WithBlockHeader(cmtproto.Header{Height: 1, ChainID: "buildchain-test"})
	enc := moduletestutil.MakeTestEncodingConfig(validators.AppModuleBasic{}, claims.AppModuleBasic{})
	f := &Fixture{
		Ctx:       ctx,
		Bank:      &Bank{key: keys["fakebank"]},
		Staking:   &Staking{vals: map[string]stakingtypes.Validator{}},
		Authority: authtypes.NewModuleAddress("gov"),
	}
	f.Bank.ctx = func() sdk.Context { return f.Ctx }
	f.Validators = keeper.NewKeeper(enc.Codec, runtime.NewKVStoreService(keys[types.StoreKey]), f.Authority.String(), f.Bank, f.Staking)
	f.Claims = claimskeeper.NewKeeper(enc.Codec, runtime.NewKVStoreService(keys[claimstypes.StoreKey]), f.Authority.String(), f.Bank, f.Validators)
	require.NoError(t, f.Validators.InitGenesis(ctx, types.DefaultGenesis()))
	require.NoError(t, f.Claims.InitGenesis(ctx, claimstypes.DefaultGenesis()))
	f.ValMsgs = keeper.NewMsgServerImpl(f.Validators)
	f.ClaimMsgs = claimskeeper.NewMsgServerImpl(f.Claims)
	f.ValQuery = keeper.NewQueryServerImpl(f.Validators)
	f.ClaimQuery = claimskeeper.NewQueryServerImpl(f.Claims)
	return f
}

// NextBlock runs the end blockers (claims, then validators, as in the app) and moves to the
// next height with the given randomness recorded for it (nil: keep the last randomness).
func (f *Fixture) NextBlock(t *testing.T, randomness []byte) {
	t.Helper()
	require.NoError(t, f.Claims.EndBlocker(f.Ctx))
	require.NoError(t, f.Validators.EndBlocker(f.Ctx))
	f.Ctx = f.Ctx.WithBlockHeight(f.Ctx.BlockHeight() + 1).WithEventManager(sdk.NewEventManager())
	if randomness != nil {
		require.NoError(t, f.Validators.SetBlockRandomness(f.Ctx, randomness))
	}
}

// EndBlock runs only the end blockers of the current height (no height change).
func (f *Fixture) EndBlock(t *testing.T) {
	t.Helper()
	require.NoError(t, f.Claims.EndBlocker(f.Ctx))
	require.NoError(t, f.Validators.EndBlocker(f.Ctx))
}

// Addr returns a deterministic test address.
func Addr(i int) sdk.AccAddress {
	b := make([]byte, 20)
	b[0] = 0xbc
	b[19] = byte(i)
	b[18] = byte(i >> 8)
	return b
}

// CheckInvariants runs both modules' invariants and fails the test on a broken one.
func (f *Fixture) CheckInvariants(t *testing.T) {
	t.Helper()
	for name, inv := range map[string]sdk.Invariant{
		"bonded-balance":  keeper.BondedBalanceInvariant(f.Validators),
		"locked-deposits": claimskeeper.LockedDepositsInvariant(f.Claims),
		"queues":          claimskeeper.QueuesInvariant(f.Claims),
	} {
		msg, broken := inv(f.Ctx)
		require.False(t, broken, "invariant %s: %s", name, msg)
	}
}
