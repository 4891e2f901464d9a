package economics

import (
	"fmt"

	"cosmossdk.io/math"
)

// SlashAmount is floor(bond × fraction): what a lying validator loses.
// Flooring errs on the side of the accused by less than one ubct.
func SlashAmount(bond math.Int, fraction math.LegacyDec) (math.Int, error) {
	if fraction.IsNil() || fraction.IsNegative() || fraction.GT(math.LegacyOneDec()) {
		return math.Int{}, fmt.Errorf("slash fraction %v outside [0,1]", fraction)
	}
	if bond.IsNil() || bond.IsNegative() {
		return math.Int{}, fmt.Errorf("bond %v must be non-negative", bond)
	}
	return MulDecFloor(bond, fraction), nil
}

// SlashSplit is how a slashed amount is shared out (docs/ARCHITECTURE.md §Economics: half to the
// validators who exposed it, half burned).
type SlashSplit struct {
	// Exposers[i] is paid to exposer i (same order as given).
	Exposers []math.Int
	// Burned is destroyed.
	Burned math.Int
}

// SplitSlash gives floor(total/2) to the exposers in equal parts and burns
// the rest. An odd ubct and the remainder of the equal split (fewer than
// len(exposers) ubct) are burned rather than favouring one exposer, so the
// result does not depend on the exposers' order. With no exposer everything
// is burned: nobody may profit from a slash they did not cause.
// Sum(Exposers) + Burned == total exactly.
func SplitSlash(total math.Int, exposers int) (SlashSplit, error) {
	if total.IsNil() || total.IsNegative() {
		return SlashSplit{}, fmt.Errorf("slash %v must be non-negative", total)
	}
	if exposers < 0 {
		return SlashSplit{}, fmt.Errorf("negative exposer count %d", exposers)
	}
	res := SlashSplit{Exposers: make([]math.Int, exposers), Burned: total}
	if exposers == 0 {
		return res, nil
	}
	each := total.QuoRaw(2).QuoRaw(int64(exposers))
	for i := range res.Exposers {
		res.Exposers[i] = each
	}
	res.Burned = total.Sub(each.MulRaw(int64(exposers)))
	return res, nil
}
