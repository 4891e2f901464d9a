package keeper

import (
	"fmt"

	"cosmossdk.io/collections"
	corestore "cosmossdk.io/core/store"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/market/types"
)

// Keeper owns the market module state.
type Keeper struct {
	cdc          codec.BinaryCodec
	storeService corestore.KVStoreService

	// authority may change the params (the x/gov module account by default).
	authority string

	Schema collections.Schema
	Params collections.Item[types.Params]
}

// NewKeeper returns the market keeper. authority is the bech32 address allowed to update params.
func NewKeeper(cdc codec.BinaryCodec, storeService corestore.KVStoreService, authority string) Keeper {
	if _, err := sdk.AccAddressFromBech32(authority); err != nil {
		panic(fmt.Sprintf("x/market: invalid authority address %q: %s", authority, err))
	}
	sb := collections.NewSchemaBuilder(storeService)
	k := Keeper{
		cdc:          cdc,
		storeService: storeService,
		authority:    authority,
		Params:       collections.NewItem(sb, types.ParamsKey, "params", codec.CollValue[types.Params](cdc)),
	}
	schema, err := sb.Build()
	if err != nil {
		panic(fmt.Sprintf("x/market: building collections schema: %s", err))
	}
	k.Schema = schema
	return k
}

// GetAuthority returns the address allowed to update the module params.
func (k Keeper) GetAuthority() string { return k.authority }
