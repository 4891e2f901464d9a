package economics

import (
	"errors"
	"fmt"
	"sort"

	"cosmossdk.io/math"
)

// ClipFactor bounds a report to [median/ClipFactor, ClipFactor×median] before
// averaging (docs/ARCHITECTURE.md §Economics: [median/4, 4×median]).
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
	// Ratios[i] is the efficiency sample r_i. AverageBuildTime uses the
	// clipped u_i / u_a, so one absurd report moves a moving average by a
	// bounded step; NormalizedAverageBuildTime compares the raw u_i with
	// the other reports (see there), clamped to [1/MaxRatio, MaxRatio].
	Ratios []math.LegacyDec
}

// ErrNoReports is returned for a claim without build-time reports.
var ErrNoReports = errors.New("no build time reports")

// AverageBuildTime computes the median, clips each report u_i (milliseconds)
// to [median/4, 4×median], and returns u_a (mean of clipped) and r_i
// exactly as docs/ARCHITECTURE.md §Economics states it. The median of an even count is the mean of
// the two middle values. A report of 0 ms is allowed (a cache hit); if every
// report is 0 then u_a = 0 and all ratios are 1.
func AverageBuildTime(reports []uint64) (BuildTimeResult, error) {
	vals := make([]math.LegacyDec, len(reports))
	for i, u := range reports {
		vals[i] = decU64(u)
	}
	return averageDec(vals)
}

// MaxRatio bounds an efficiency sample r_i to [1/MaxRatio, MaxRatio]: wide
// enough to learn any plausible machine or reporting slowness, narrow enough
// that one absurd report cannot wreck a moving average.
const MaxRatio = 16

// NormalizedAverageBuildTime is what x/bct uses. Each report is first divided
// by its validator's current efficiency factor e_i (u_i/e_i is the report
// expressed in "average validator" milliseconds), then median, clipping and
// mean give u_a as in docs/ARCHITECTURE.md §Economics, and r_i = u_i / (mean of the other reports'
// clipped normalized values), clamped to [1/16, 16]. Why: with one report per claim (min_rounds = 1, p_continue =
// 0.5, so about half the claims) the plain u_a equals that validator's own
// u_i, and a validator inflating its reports ×3 would earn ×3 there. Dividing
// by the learnt efficiency removes that gain once the factor is learnt from
// multi-report claims (a persistent ×k reporter converges to e = k, so its
// normalized reports are ordinary), and a genuinely slower machine is paid
// for the work done, not for its slowness. With every e_i = 1 this is
// exactly AverageBuildTime.
func NormalizedAverageBuildTime(reports []uint64, efficiency []math.LegacyDec) (BuildTimeResult, error) {
	if len(efficiency) != len(reports) {
		return BuildTimeResult{}, fmt.Errorf("%d reports but %d efficiency factors", len(reports), len(efficiency))
	}
	raw := make([]math.LegacyDec, len(reports))
	norm := make([]math.LegacyDec, len(reports))
	for i, u := range reports {
		e := efficiency[i]
		if e.IsNil() || !e.IsPositive() {
			return BuildTimeResult{}, fmt.Errorf("efficiency factor %v of report %d must be positive", e, i)
		}
		raw[i] = decU64(u)
		norm[i] = raw[i].Quo(e)
	}
	res, err := averageDec(norm)
	if err != nil {
		return res, err
	}
	// r_i compares u_i with the others' (clipped, normalized) reports:
	// leaving the validator's own report out of its reference makes one
	// sample carry the full signal (with two reports, including oneself
	// would halve a 3× slowdown to 1.5×), so a factor is learnt within a
	// few multi-report claims. A lone report carries no information: its
	// sample is the current factor, which leaves the average unchanged.
	lo, hi := math.LegacyOneDec().QuoInt64(MaxRatio), math.LegacyNewDec(MaxRatio)
	n := int64(len(reports))
	sum := math.LegacyZeroDec()
	for _, c := range res.Clipped {
		sum = sum.Add(c)
	}
	for i := range res.Ratios {
		if n == 1 {
			res.Ratios[i] = efficiency[i]
			continue
		}
		ref := sum.Sub(res.Clipped[i]).QuoInt64(n - 1)
		if ref.IsZero() {
			res.Ratios[i] = efficiency[i]
			continue
		}
		res.Ratios[i] = math.LegacyMinDec(hi, math.LegacyMaxDec(lo, raw[i].Quo(ref)))
	}
	return res, nil
}

// averageDec clips vals around their median and averages them; the ratios
// are clipped vals / average.
func averageDec(vals []math.LegacyDec) (BuildTimeResult, error) {
	n := len(vals)
	if n == 0 {
		return BuildTimeResult{}, ErrNoReports
	}
	sorted := append([]math.LegacyDec(nil), vals...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].LT(sorted[j]) })

	var median math.LegacyDec
	if n%2 == 1 {
		median = sorted[n/2]
	} else {
		median = sorted[n/2-1].Add(sorted[n/2]).QuoInt64(2)
	}
	lo := median.QuoInt64(ClipFactor)
	hi := median.MulInt64(ClipFactor)

	res := BuildTimeResult{Median: median, Clipped: make([]math.LegacyDec, n), Ratios: make([]math.LegacyDec, n)}
	sum := math.LegacyZeroDec()
	for i, v := range vals {
		c := math.LegacyMinDec(hi, math.LegacyMaxDec(lo, v))
		res.Clipped[i] = c
		sum = sum.Add(c)
	}
	res.Average = sum.QuoInt64(int64(n))
	for i := range vals {
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
// defined average efficiency is 1 (r_i = u_i / u_a, docs/ARCHITECTURE.md
// §Economics).
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

// EfficiencyWeight is the weight of a validator's next efficiency sample after `samples`
// informative ones (validations with at least two reports): 1/(samples+1) — the plain mean
// of the samples so far — until that falls below DefaultEfficiencyWeight, then the moving
// average's fixed weight. A new validator's factor thus comes from its first comparisons
// at once instead of creeping from the default 1 over ~16 of them, which is the window in
// which over-reporting a lone build still paid.
func EfficiencyWeight(samples uint64) math.LegacyDec {
	w := math.LegacyOneDec().QuoInt64(int64(min(samples, 1<<62)) + 1)
	return math.LegacyMaxDec(w, DefaultEfficiencyWeight)
}
