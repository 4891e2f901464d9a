package simulation

import (
	"math/rand"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	"github.com/buildchain/buildchain/x/claims/types"
)

// RandomParams returns random valid params.
func RandomParams(r *rand.Rand) types.Params {
	minRounds := uint32(1 + r.Intn(4))
	return types.NewParams(
		sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(1+r.Int63n(100_000_000))),
		sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(r.Int63n(1_000_000))),
		sdkmath.LegacyNewDecWithPrec(int64(r.Intn(101)), 2),
		minRounds,
		minRounds+uint32(r.Intn(8)),
		uint64(1+r.Intn(30)), // short enough that sims see timeouts
		sdkmath.LegacyNewDecWithPrec(int64(r.Intn(101)), 2),
	)
}
