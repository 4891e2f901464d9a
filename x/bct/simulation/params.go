package simulation

import (
	"math/rand"

	sdkmath "cosmossdk.io/math"

	"github.com/buildchain/buildchain/x/bct/types"
)

// RandomParams returns random valid params.
func RandomParams(r *rand.Rand) types.Params {
	// Periods of at most 200 blocks so that a 500-block simulation ends several of them.
	return types.NewParams(
		uint64(1+r.Intn(200)),
		sdkmath.LegacyNewDecWithPrec(int64(r.Intn(30)), 2),
		sdkmath.LegacyNewDecWithPrec(int64(r.Intn(101)), 2),
		sdkmath.LegacyNewDecWithPrec(int64(r.Intn(101)), 2),
		types.DefaultBlocksPerYear,
		"",
	)
}
