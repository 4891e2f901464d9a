package keeper

import (
	"context"
	"fmt"

	"cosmossdk.io/collections"
	corestore "cosmossdk.io/core/store"
	"cosmossdk.io/log"
	sdkmath "cosmossdk.io/math"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

	"github.com/buildchain/buildchain/x/claims/types"
)

// Keeper owns the claims module state: claims, their rounds and assignments, the indexes the
// queries use, and the queues EndBlock works through.
type Keeper struct {
	cdc          codec.BinaryCodec
	storeService corestore.KVStoreService
	bank         types.BankKeeper
	validators   types.ValidatorsKeeper
	// hooks is shared by every copy of the Keeper, so SetHooks after the module was built works.
	hooks *hooksHolder

	// authority may change the params (the x/gov module account by default).
	authority string

	Schema          collections.Schema
	Params          collections.Item[types.Params]
	NextClaimID     collections.Sequence
	Claims          collections.Map[uint64, types.Claim]
	ByDerivation    collections.KeySet[collections.Pair[string, uint64]]
	ByOutput        collections.KeySet[collections.Pair[string, uint64]]
	ByPublisher     collections.KeySet[collections.Pair[sdk.AccAddress, uint64]]
	ByValidator     collections.KeySet[collections.Pair[sdk.AccAddress, uint64]]
	OpenAssignments collections.KeySet[collections.Pair[sdk.AccAddress, uint64]]
	Pending         collections.KeySet[uint64]
	Deadlines       collections.KeySet[collections.Pair[int64, uint64]]
	// RevealDeadlines orders (reveal deadline, id) of REVEALING blind claims.
	RevealDeadlines collections.KeySet[collections.Pair[int64, uint64]]
	Verified        collections.Map[string, uint64]
	// BlockFees: claim fees paid in this block (denom → amount), forwarded in EndBlock.
	BlockFees collections.Map[string, sdkmath.Int]
}

type hooksHolder struct{ h types.ClaimsHooks }

// NewKeeper returns the claims keeper. authority is the bech32 address allowed to update params.
func NewKeeper(cdc codec.BinaryCodec, storeService corestore.KVStoreService, authority string,
	bank types.BankKeeper, validators types.ValidatorsKeeper,
) Keeper {
	if _, err := sdk.AccAddressFromBech32(authority); err != nil {
		panic(fmt.Sprintf("x/claims: invalid authority address %q: %s", authority, err))
	}
	sb := collections.NewSchemaBuilder(storeService)
	addrID := collections.PairKeyCodec(sdk.AccAddressKey, collections.Uint64Key)
	strID := collections.PairKeyCodec(collections.StringKey, collections.Uint64Key)
	k := Keeper{
		cdc:             cdc,
		storeService:    storeService,
		bank:            bank,
		validators:      validators,
		hooks:           &hooksHolder{},
		authority:       authority,
		Params:          collections.NewItem(sb, types.ParamsKey, "params", codec.CollValue[types.Params](cdc)),
		NextClaimID:     collections.NewSequence(sb, types.NextClaimIDKey, "next_claim_id"),
		Claims:          collections.NewMap(sb, types.ClaimsKey, "claims", collections.Uint64Key, codec.CollValue[types.Claim](cdc)),
		ByDerivation:    collections.NewKeySet(sb, types.ByDerivationKey, "by_derivation", strID),
		ByOutput:        collections.NewKeySet(sb, types.ByOutputKey, "by_output", strID),
		ByPublisher:     collections.NewKeySet(sb, types.ByPublisherKey, "by_publisher", addrID),
		ByValidator:     collections.NewKeySet(sb, types.ByValidatorKey, "by_validator", addrID),
		OpenAssignments: collections.NewKeySet(sb, types.OpenAssignmentsKey, "open_assignments", addrID),
		Pending:         collections.NewKeySet(sb, types.PendingKey, "pending", collections.Uint64Key),
		Deadlines: collections.NewKeySet(sb, types.DeadlinesKey, "deadlines",
			collections.PairKeyCodec(collections.Int64Key, collections.Uint64Key)),
		RevealDeadlines: collections.NewKeySet(sb, types.RevealDeadlinesKey, "reveal_deadlines",
			collections.PairKeyCodec(collections.Int64Key, collections.Uint64Key)),
		Verified:  collections.NewMap(sb, types.VerifiedKey, "verified", collections.StringKey, collections.Uint64Value),
		BlockFees: collections.NewMap(sb, types.BlockFeesKey, "block_fees", collections.StringKey, sdk.IntValue),
	}
	schema, err := sb.Build()
	if err != nil {
		panic(fmt.Sprintf("x/claims: building collections schema: %s", err))
	}
	k.Schema = schema
	return k
}

// SetHooks installs the hooks (x/market, x/bct). Call once while wiring the app.
func (k Keeper) SetHooks(h types.ClaimsHooks) {
	if k.hooks.h != nil {
		panic("x/claims: hooks already set")
	}
	k.hooks.h = h
}

// GetAuthority returns the address allowed to update the module params.
func (k Keeper) GetAuthority() string { return k.authority }

// ModuleAddress is the account holding the locked deposits.
func (k Keeper) ModuleAddress() sdk.AccAddress { return authtypes.NewModuleAddress(types.ModuleName) }

func (k Keeper) logger(ctx context.Context) log.Logger {
	return sdk.UnwrapSDKContext(ctx).Logger().With("module", "x/"+types.ModuleName)
}

func (k Keeper) afterDisputed(ctx context.Context, c types.Claim) error {
	if k.hooks.h == nil {
		return nil
	}
	return k.hooks.h.AfterClaimDisputed(ctx, c)
}

func (k Keeper) afterValidated(ctx context.Context, c types.Claim) error {
	if k.hooks.h == nil {
		return nil
	}
	return k.hooks.h.AfterClaimValidated(ctx, c)
}
