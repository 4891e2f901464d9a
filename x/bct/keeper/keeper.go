package keeper

import (
	"fmt"

	"cosmossdk.io/collections"
	corestore "cosmossdk.io/core/store"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/bct/types"
)

// Keeper owns the bct module state: the payment period, each validator's rewardable build
// time and efficiency, the records of finished periods and the lifetime mint/burn totals.
type Keeper struct {
	cdc          codec.BinaryCodec
	storeService corestore.KVStoreService

	// authority may change the params (the x/gov module account by default).
	authority string

	accountKeeper types.AccountKeeper
	bankKeeper    types.BankKeeper
	// validators is set after construction (app.go); a pointer so every copy sees it.
	validators *types.ValidatorsKeeper

	Schema         collections.Schema
	Params         collections.Item[types.Params]
	Period         collections.Item[types.Period]
	ValidatorStats collections.Map[sdk.AccAddress, types.ValidatorStats]
	PeriodRecords  collections.Map[uint64, types.PeriodRecord]
	Totals         collections.Item[types.Totals]
}

// NewKeeper returns the bct keeper. authority is the bech32 address allowed to update params.
func NewKeeper(cdc codec.BinaryCodec, storeService corestore.KVStoreService, authority string,
	ak types.AccountKeeper, bk types.BankKeeper,
) Keeper {
	if _, err := sdk.AccAddressFromBech32(authority); err != nil {
		panic(fmt.Sprintf("x/bct: invalid authority address %q: %s", authority, err))
	}
	if ak.GetModuleAddress(types.ModuleName) == nil {
		panic("x/bct: the bct module account is not set up")
	}
	if ak.GetModuleAddress(types.DevFundName) == nil {
		panic("x/bct: the dev fund module account is not set up")
	}
	sb := collections.NewSchemaBuilder(storeService)
	k := Keeper{
		cdc:            cdc,
		storeService:   storeService,
		authority:      authority,
		accountKeeper:  ak,
		bankKeeper:     bk,
		validators:     new(types.ValidatorsKeeper),
		Params:         collections.NewItem(sb, types.ParamsKey, "params", codec.CollValue[types.Params](cdc)),
		Period:         collections.NewItem(sb, types.PeriodKey, "period", codec.CollValue[types.Period](cdc)),
		ValidatorStats: collections.NewMap(sb, types.ValidatorStatsKey, "validator_stats", sdk.AccAddressKey, codec.CollValue[types.ValidatorStats](cdc)),
		PeriodRecords:  collections.NewMap(sb, types.PeriodRecordsKey, "period_records", collections.Uint64Key, codec.CollValue[types.PeriodRecord](cdc)),
		Totals:         collections.NewItem(sb, types.TotalsKey, "totals", codec.CollValue[types.Totals](cdc)),
	}
	schema, err := sb.Build()
	if err != nil {
		panic(fmt.Sprintf("x/bct: building collections schema: %s", err))
	}
	k.Schema = schema
	return k
}

// GetAuthority returns the address allowed to update the module params.
func (k Keeper) GetAuthority() string { return k.authority }

// SetValidatorsKeeper wires x/validators, which then gets each updated efficiency factor.
func (k Keeper) SetValidatorsKeeper(v types.ValidatorsKeeper) { *k.validators = v }
