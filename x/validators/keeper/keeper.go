package keeper

import (
	"context"
	"fmt"

	"cosmossdk.io/collections"
	corestore "cosmossdk.io/core/store"
	"cosmossdk.io/log"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

	"github.com/buildchain/buildchain/x/validators/types"
)

// Keeper owns the validators module state: build validators and their bonds, and the
// per-block VRF randomness beacon with the authorities' VRF keys.
type Keeper struct {
	cdc          codec.BinaryCodec
	storeService corestore.KVStoreService
	bank         types.BankKeeper
	staking      types.StakingKeeper

	// authority may change the params (the x/gov module account by default).
	authority string

	Schema collections.Schema
	Params collections.Item[types.Params]
	// Validators maps operator → build validator.
	Validators collections.Map[sdk.AccAddress, types.Validator]
	// BySystem indexes validators by supported system, for assignment and queries.
	BySystem collections.KeySet[collections.Pair[string, sdk.AccAddress]]
	// UnbondingQueue orders unbonding validators by completion height.
	UnbondingQueue collections.KeySet[collections.Pair[int64, sdk.AccAddress]]
	// VrfKeys maps an authority's consensus address → its VRF key(s).
	VrfKeys collections.Map[sdk.ConsAddress, types.VrfKey]
	// Randomness maps height → beacon output (recent history only).
	Randomness collections.Map[int64, types.Randomness]
	// LastRandomness is the newest beacon output: the VRF input of the next block.
	LastRandomness collections.Item[types.Randomness]
}

// NewKeeper returns the validators keeper. authority is the bech32 address allowed to update
// params; bank holds bonds; staking maps operators to consensus addresses for VRF keys.
func NewKeeper(cdc codec.BinaryCodec, storeService corestore.KVStoreService, authority string,
	bank types.BankKeeper, staking types.StakingKeeper,
) Keeper {
	if _, err := sdk.AccAddressFromBech32(authority); err != nil {
		panic(fmt.Sprintf("x/validators: invalid authority address %q: %s", authority, err))
	}
	sb := collections.NewSchemaBuilder(storeService)
	k := Keeper{
		cdc:          cdc,
		storeService: storeService,
		bank:         bank,
		staking:      staking,
		authority:    authority,
		Params:       collections.NewItem(sb, types.ParamsKey, "params", codec.CollValue[types.Params](cdc)),
		Validators: collections.NewMap(sb, types.ValidatorsKey, "validators", sdk.AccAddressKey,
			codec.CollValue[types.Validator](cdc)),
		BySystem: collections.NewKeySet(sb, types.BySystemKey, "by_system",
			collections.PairKeyCodec(collections.StringKey, sdk.AccAddressKey)),
		UnbondingQueue: collections.NewKeySet(sb, types.UnbondingQueueKey, "unbonding_queue",
			collections.PairKeyCodec(collections.Int64Key, sdk.AccAddressKey)),
		VrfKeys: collections.NewMap(sb, types.VrfKeysKey, "vrf_keys", sdk.ConsAddressKey,
			codec.CollValue[types.VrfKey](cdc)),
		Randomness: collections.NewMap(sb, types.RandomnessKey, "randomness", collections.Int64Key,
			codec.CollValue[types.Randomness](cdc)),
		LastRandomness: collections.NewItem(sb, types.LastRandomnessKey, "last_randomness",
			codec.CollValue[types.Randomness](cdc)),
	}
	schema, err := sb.Build()
	if err != nil {
		panic(fmt.Sprintf("x/validators: building collections schema: %s", err))
	}
	k.Schema = schema
	return k
}

// GetAuthority returns the address allowed to update the module params.
func (k Keeper) GetAuthority() string { return k.authority }

// ModuleAddress is the account holding all bonds.
func (k Keeper) ModuleAddress() sdk.AccAddress { return authtypes.NewModuleAddress(types.ModuleName) }

func (k Keeper) logger(ctx context.Context) log.Logger {
	return sdk.UnwrapSDKContext(ctx).Logger().With("module", "x/"+types.ModuleName)
}
