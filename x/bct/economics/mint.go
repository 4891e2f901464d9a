package economics

import (
	"fmt"
	"math/big"

	"cosmossdk.io/math"
)

// precisionDenom is 10^18, the fixed-point scale of math.LegacyDec.
var precisionDenom = new(big.Int).Exp(big.NewInt(10), big.NewInt(math.LegacyPrecision), nil)

// MulDecFloor returns floor(x × d) computed exactly on the underlying
// integers (x × d.atoms / 10^18). LegacyDec.Mul rounds at 18 decimals
// (half up), which could mint or slash one ubct more than the rate says;
// flooring on integers never exceeds the stated fraction.
func MulDecFloor(x math.Int, d math.LegacyDec) math.Int {
	n := new(big.Int).Mul(x.BigInt(), d.BigInt())
	return math.NewIntFromBigInt(n.Quo(n, precisionDenom))
}

// MintAmount is the per-period mint of docs/ARCHITECTURE.md §Economics:
//
//	floor(supply × inflation_rate × period_blocks / blocks_per_year)
//
// computed as one exact integer division, so the only rounding is a single
// truncation of less than one ubct per period (in favour of holders: never
// more than the announced rate is minted).
func MintAmount(supply math.Int, inflationRate math.LegacyDec, periodBlocks, blocksPerYear int64) (math.Int, error) {
	switch {
	case supply.IsNil() || supply.IsNegative():
		return math.Int{}, fmt.Errorf("supply %v must be non-negative", supply)
	case inflationRate.IsNil() || inflationRate.IsNegative():
		return math.Int{}, fmt.Errorf("inflation rate %v must be non-negative", inflationRate)
	case periodBlocks <= 0:
		return math.Int{}, fmt.Errorf("payment period %d blocks must be positive", periodBlocks)
	case blocksPerYear <= 0:
		return math.Int{}, fmt.Errorf("blocks per year %d must be positive", blocksPerYear)
	}
	n := new(big.Int).Mul(supply.BigInt(), inflationRate.BigInt())
	n.Mul(n, big.NewInt(periodBlocks))
	d := new(big.Int).Mul(precisionDenom, big.NewInt(blocksPerYear))
	return math.NewIntFromBigInt(n.Quo(n, d)), nil
}

// SplitDevFund splits a mint into the development fund's share
// floor(mint × share) and the validators' rest. dev + validators == mint.
func SplitDevFund(mint math.Int, share math.LegacyDec) (dev, validators math.Int, err error) {
	if share.IsNil() || share.IsNegative() || share.GT(math.LegacyOneDec()) {
		return math.Int{}, math.Int{}, fmt.Errorf("dev fund share %v outside [0,1]", share)
	}
	if mint.IsNil() || mint.IsNegative() {
		return math.Int{}, math.Int{}, fmt.Errorf("mint %v must be non-negative", mint)
	}
	dev = MulDecFloor(mint, share)
	return dev, mint.Sub(dev), nil
}
