package simulation

import (
	"math/rand"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	"github.com/buildchain/buildchain/x/market/types"
)

// RandomParams returns random valid params.
func RandomParams(r *rand.Rand) types.Params {
	return types.NewParams(
		uint64(1+r.Intn(100)),
		uint64(1+r.Intn(100)),
		sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(r.Int63n(1_000_000_000))),
		sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(1+r.Int63n(10_000_000))),
		sdkmath.LegacyNewDecWithPrec(int64(r.Intn(100)), 2),
	)
}
