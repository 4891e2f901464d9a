package simulation

import (
	"math/rand"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	"github.com/buildchain/buildchain/x/validators/types"
)

// RandomParams returns random valid params.
func RandomParams(r *rand.Rand) types.Params {
	return types.NewParams(
		sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(1+r.Int63n(1_000_000_000))),
		uint64(1+r.Intn(1000)),
		uint64(1+r.Intn(10)),
		uint64(1+r.Intn(1000)),
		r.Intn(2) == 0,
		uint64(1+r.Intn(20)),
	)
}
