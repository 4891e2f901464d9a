package economics

import (
	"errors"
	"fmt"
	"sort"

	"cosmossdk.io/math"
)

// ClipFactor bounds a report to [median/ClipFactor, ClipFactor×median] before
// averaging (SPEC §3: [median/4, 4×median]).
const ClipFactor = 4

// BuildTimeResult is what one finished validation of a claim contributes.
type BuildTimeResult struct {
	// Median of the reported build times u_i.
	Median math.LegacyDec
	// Average is u_a: the mean of the clipped reports. Every validator that
	// took part earns u_a, not its own u_i, so reporting slowly earns nothing.
	Average math.LegacyDec
	// Clipped[i] is report i clipped to [median/4, 4×median].
	Clipped []math.LegacyDec
	// Ratios[i] is the efficiency sample r_i = clipped u_i / u_a. The clipped
	// value is used (not the raw one) so that one absurd report moves a
	// validator's moving average by a bounded step; a report that was clipped
	// still yields the largest possible ratio (≈4), so slowness stays visible.
	Ratios []math.LegacyDec
}

// ErrNoReports is returned for a claim without build-time reports.
var ErrNoReports = errors.New("no build time reports")

// AverageBuildTime computes the median, clips each report u_i (milliseconds)
// to [median/4, 4×median], and returns u_a (mean of clipped) and r_i.
// The median of an even count is the mean of the two middle values.
// A report of 0 ms is allowed (a cache hit); if every report is 0 then
// u_a = 0 and all ratios are 1 (nobody did measurable work, nobody is
// more or less efficient than anyone else).
func AverageBuildTime(reports []uint64) (BuildTimeResult, error) {
	n := len(reports)
	if n == 0 {
		return BuildTimeResult{}, ErrNoReports
	}
	sorted := append([]uint64(nil), reports...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })

	var median math.LegacyDec
	if n%2 == 1 {
		median = decU64(sorted[n/2])
	} else {
		median = decU64(sorted[n/2-1]).Add(decU64(sorted[n/2])).QuoInt64(2)
	}
	lo := median.QuoInt64(ClipFactor)
	hi := median.MulInt64(ClipFactor)

	res := BuildTimeResult{Median: median, Clipped: make([]math.LegacyDec, n), Ratios: make([]math.LegacyDec, n)}
	sum := math.LegacyZeroDec()
	for i, u := range reports {
		c := decU64(u)
		if c.LT(lo) {
			c = lo
		}
		if c.GT(hi) {
			c = hi
		}
		res.Clipped[i] = c
		sum = sum.Add(c)
	}
	res.Average = sum.QuoInt64(int64(n))
	for i := range reports {
		if res.Average.IsZero() {
			res.Ratios[i] = math.LegacyOneDec()
			continue
		}
		res.Ratios[i] = res.Clipped[i].Quo(res.Average)
	}
	return res, nil
}

// DefaultEfficiencyWeight is the weight α of a new sample in the efficiency
// moving average: eff' = (1−α)·eff + α·r. α = 1/8 remembers about the last 8
// validations (a sample's weight halves after ~5 more), so one noisy build
// (a cold cache, a busy machine) moves the factor by at most α·(4−1) ≈ 0.375,
// while a validator that is consistently slow is at its true ratio within
// ~20 validations. The assignment weight divides by this factor, so it must
// neither whipsaw on noise nor take hundreds of claims to notice a
// persistently slow (or persistently lying-slow) validator.
var DefaultEfficiencyWeight = math.LegacyNewDecWithPrec(125, 3)

// InitialEfficiency is the factor of a validator without history: the
// defined average efficiency is 1 (VISION: "We define the average
// efficiency factor to be 1").
func InitialEfficiency() math.LegacyDec { return math.LegacyOneDec() }

// UpdateEfficiency returns (1−α)·old + α·sample.
func UpdateEfficiency(old, sample, alpha math.LegacyDec) (math.LegacyDec, error) {
	if alpha.IsNegative() || alpha.GT(math.LegacyOneDec()) {
		return math.LegacyDec{}, fmt.Errorf("efficiency weight %s outside [0,1]", alpha)
	}
	if old.IsNil() || old.IsNegative() || sample.IsNil() || sample.IsNegative() {
		return math.LegacyDec{}, fmt.Errorf("efficiency values must be non-negative (old %v, sample %v)", old, sample)
	}
	return old.Mul(math.LegacyOneDec().Sub(alpha)).Add(sample.Mul(alpha)), nil
}

func decU64(u uint64) math.LegacyDec {
	return math.LegacyNewDecFromInt(math.NewIntFromUint64(u))
}
