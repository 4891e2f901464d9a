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
	// Phases of at most 40 blocks and a quorum of at most 200 BCT, so that a few-hundred-block
	// simulation resolves many markets, some with and some without quorum.
	return types.NewParams(
		uint64(1+r.Intn(40)),
		uint64(1+r.Intn(40)),
		sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(r.Int63n(200_000_000))),
		sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(1+r.Int63n(10_000_000))),
		sdkmath.LegacyNewDecWithPrec(int64(r.Intn(100)), 2),
	)
}
