package keeper

import (
	"fmt"

	"cosmossdk.io/collections"
	corestore "cosmossdk.io/core/store"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/market/types"
)

// Keeper owns the market module state: markets, their predictions and indexes.
type Keeper struct {
	cdc          codec.BinaryCodec
	storeService corestore.KVStoreService

	// authority may change the params (the x/gov module account by default).
	authority string

	bankKeeper types.BankKeeper
	bctKeeper  types.BctKeeper
	// deps are set after construction (x/claims and x/market refer to each other); a
	// pointer so that every copy of the Keeper sees them.
	deps *deps

	Schema       collections.Schema
	Params       collections.Item[types.Params]
	NextMarketID collections.Sequence
	Markets      collections.Map[uint64, types.Market]
	Predictions  collections.Map[collections.Pair[uint64, sdk.AccAddress], types.Prediction]
	ByAccount    collections.KeySet[collections.Pair[sdk.AccAddress, uint64]]
	ByClaim      collections.KeySet[collections.Pair[uint64, uint64]]
	OpenMarkets  collections.KeySet[collections.Pair[int64, uint64]]
}

type deps struct {
	claims     types.ClaimsKeeper
	validators types.ValidatorsKeeper
}

// NewKeeper returns the market keeper. authority is the bech32 address allowed to update params.
func NewKeeper(cdc codec.BinaryCodec, storeService corestore.KVStoreService, authority string,
	ak types.AccountKeeper, bk types.BankKeeper, bctKeeper types.BctKeeper,
) Keeper {
	if _, err := sdk.AccAddressFromBech32(authority); err != nil {
		panic(fmt.Sprintf("x/market: invalid authority address %q: %s", authority, err))
	}
	if ak.GetModuleAddress(types.ModuleName) == nil {
		panic("x/market: the market module account is not set up")
	}
	sb := collections.NewSchemaBuilder(storeService)
	k := Keeper{
		cdc:          cdc,
		storeService: storeService,
		authority:    authority,
		bankKeeper:   bk,
		bctKeeper:    bctKeeper,
		deps:         &deps{},
		Params:       collections.NewItem(sb, types.ParamsKey, "params", codec.CollValue[types.Params](cdc)),
		NextMarketID: collections.NewSequence(sb, types.NextMarketIDKey, "next_market_id"),
		Markets:      collections.NewMap(sb, types.MarketsKey, "markets", collections.Uint64Key, codec.CollValue[types.Market](cdc)),
		Predictions: collections.NewMap(sb, types.PredictionsKey, "predictions",
			collections.PairKeyCodec(collections.Uint64Key, sdk.AccAddressKey), codec.CollValue[types.Prediction](cdc)),
		ByAccount: collections.NewKeySet(sb, types.PredictionsByAccountKey, "predictions_by_account",
			collections.PairKeyCodec(sdk.AccAddressKey, collections.Uint64Key)),
		ByClaim: collections.NewKeySet(sb, types.MarketsByClaimKey, "markets_by_claim",
			collections.PairKeyCodec(collections.Uint64Key, collections.Uint64Key)),
		OpenMarkets: collections.NewKeySet(sb, types.OpenMarketsKey, "open_markets",
			collections.PairKeyCodec(collections.Int64Key, collections.Uint64Key)),
	}
	schema, err := sb.Build()
	if err != nil {
		panic(fmt.Sprintf("x/market: building collections schema: %s", err))
	}
	k.Schema = schema
	return k
}

// SetClaimsKeeper wires x/claims (set once in app.go, after both keepers exist).
func (k Keeper) SetClaimsKeeper(c types.ClaimsKeeper) { k.deps.claims = c }

// SetValidatorsKeeper wires x/validators (set once in app.go).
func (k Keeper) SetValidatorsKeeper(v types.ValidatorsKeeper) { k.deps.validators = v }

// GetAuthority returns the address allowed to update the module params.
func (k Keeper) GetAuthority() string { return k.authority }
