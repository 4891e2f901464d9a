package economics

import (
	"math/rand"
	"testing"

	"cosmossdk.io/math"
	"github.com/stretchr/testify/require"
)

func dec(s string) math.LegacyDec { return math.LegacyMustNewDecFromStr(s) }

func TestAverageBuildTimeSlowReporterEarnsNoMore(t *testing.T) {
	// Two honest validators build in 1000 ms; a third reports 1900 ms
	// for the same work. All three earn u_a, so reporting slowly does
	// not earn the slow one more than the fast ones.
	res, err := AverageBuildTime([]uint64{1000, 1000, 1900})
	require.NoError(t, err)
	require.Equal(t, dec("1000"), res.Median)
	require.Equal(t, dec("1300"), res.Average)
	// Its efficiency sample shows it is slower than average.
	require.True(t, res.Ratios[2].GT(math.LegacyOneDec()))
	require.True(t, res.Ratios[0].LT(math.LegacyOneDec()))
}

func TestAverageBuildTimeClipsOutliers(t *testing.T) {
	// median 1000: 100000 is clipped to 4000 and 10 to 250.
	res, err := AverageBuildTime([]uint64{10, 1000, 1000, 100000, 1000})
	require.NoError(t, err)
	require.Equal(t, dec("1000"), res.Median)
	require.Equal(t, dec("250"), res.Clipped[0])
	require.Equal(t, dec("4000"), res.Clipped[3])
	require.Equal(t, dec("1450"), res.Average) // (250+1000+1000+4000+1000)/5
	// An absurd report moves u_a by at most the clip bound.
	res2, err := AverageBuildTime([]uint64{10, 1000, 1000, 1 << 60, 1000})
	require.NoError(t, err)
	require.Equal(t, res.Average, res2.Average)
}

func TestAverageBuildTimeEvenMedianAndEdgeCases(t *testing.T) {
	res, err := AverageBuildTime([]uint64{100, 300})
	require.NoError(t, err)
	require.Equal(t, dec("200"), res.Median)
	require.Equal(t, dec("200"), res.Average)
	require.Equal(t, dec("0.5"), res.Ratios[0])
	require.Equal(t, dec("1.5"), res.Ratios[1])

	res, err = AverageBuildTime([]uint64{700})
	require.NoError(t, err)
	require.Equal(t, dec("700"), res.Average)
	require.Equal(t, math.LegacyOneDec(), res.Ratios[0])

	res, err = AverageBuildTime([]uint64{0, 0})
	require.NoError(t, err)
	require.True(t, res.Average.IsZero())
	require.Equal(t, math.LegacyOneDec(), res.Ratios[1])

	_, err = AverageBuildTime(nil)
	require.ErrorIs(t, err, ErrNoReports)
}

func TestUpdateEfficiency(t *testing.T) {
	e, err := UpdateEfficiency(math.LegacyOneDec(), dec("2"), DefaultEfficiencyWeight)
	require.NoError(t, err)
	require.Equal(t, dec("1.125"), e)
	// A consistently slow validator converges to its ratio.
	e = InitialEfficiency()
	for i := 0; i < 60; i++ {
		e, err = UpdateEfficiency(e, dec("2"), DefaultEfficiencyWeight)
		require.NoError(t, err)
	}
	require.True(t, e.GT(dec("1.999")), e.String())
	_, err = UpdateEfficiency(math.LegacyOneDec(), dec("2"), dec("1.5"))
	require.Error(t, err)
	_, err = UpdateEfficiency(math.LegacyOneDec(), dec("-2"), DefaultEfficiencyWeight)
	require.Error(t, err)
}

func TestMintAmount(t *testing.T) {
	// 10^15 ubct × 0.07 × 100 / 6311520 = 1109083073.8: floored.
	m, err := MintAmount(math.NewInt(1_000_000_000_000_000), dec("0.07"), 100, 6311520)
	require.NoError(t, err)
	require.Equal(t, math.NewInt(1109083073), m)
	// A year of periods mints (just under, by truncation) the rate.
	m, err = MintAmount(math.NewInt(1_000_000), dec("0.07"), 6311520, 6311520)
	require.NoError(t, err)
	require.Equal(t, math.NewInt(70_000), m)
	// Exact floor even where LegacyDec.Mul would round up.
	m, err = MintAmount(math.NewInt(3), dec("0.5"), 1, 1)
	require.NoError(t, err)
	require.Equal(t, math.NewInt(1), m)

	for _, bad := range []func() error{
		func() error { _, err := MintAmount(math.NewInt(-1), dec("0.07"), 1, 1); return err },
		func() error { _, err := MintAmount(math.NewInt(1), dec("-0.07"), 1, 1); return err },
		func() error { _, err := MintAmount(math.NewInt(1), dec("0.07"), 0, 1); return err },
		func() error { _, err := MintAmount(math.NewInt(1), dec("0.07"), 1, 0); return err },
	} {
		require.Error(t, bad())
	}
}

func TestSplitDevFund(t *testing.T) {
	dev, val, err := SplitDevFund(math.NewInt(1109083073), dec("0.05"))
	require.NoError(t, err)
	require.Equal(t, math.NewInt(55454153), dev)
	require.Equal(t, math.NewInt(1109083073), dev.Add(val))
	_, _, err = SplitDevFund(math.NewInt(1), dec("1.01"))
	require.Error(t, err)
}

func TestDistributeProRataLargestRemainder(t *testing.T) {
	// 10 ubct over three equal weights: 3 each, one left over, to the
	// smallest key (all remainders equal).
	out, err := DistributeProRata(math.NewInt(10), []Share{
		{Key: "c", Weight: dec("1")}, {Key: "a", Weight: dec("1")}, {Key: "b", Weight: dec("1")},
	})
	require.NoError(t, err)
	require.Equal(t, []math.Int{math.NewInt(3), math.NewInt(4), math.NewInt(3)}, out)

	// The largest fractional part wins the leftover: 7 × (1/6, 2/6, 3/6)
	// = 1.166, 2.333, 3.5 → 1, 2, 3 and one left → to "z" (0.5).
	out, err = DistributeProRata(math.NewInt(7), []Share{
		{Key: "x", Weight: dec("1")}, {Key: "y", Weight: dec("2")}, {Key: "z", Weight: dec("3")},
	})
	require.NoError(t, err)
	require.Equal(t, []math.Int{math.NewInt(1), math.NewInt(2), math.NewInt(4)}, out)

	// Zero-weight recipients get nothing.
	out, err = DistributeProRata(math.NewInt(5), []Share{{Key: "a", Weight: dec("0")}, {Key: "b", Weight: dec("0.001")}})
	require.NoError(t, err)
	require.Equal(t, []math.Int{math.ZeroInt(), math.NewInt(5)}, out)

	_, err = DistributeProRata(math.NewInt(5), []Share{{Key: "a", Weight: dec("0")}})
	require.ErrorIs(t, err, ErrZeroWeight)
	_, err = DistributeProRata(math.NewInt(5), nil)
	require.ErrorIs(t, err, ErrZeroWeight)
	_, err = DistributeProRata(math.NewInt(5), []Share{{Key: "a", Weight: dec("1")}, {Key: "a", Weight: dec("2")}})
	require.ErrorContains(t, err, "duplicate")
	_, err = DistributeProRata(math.NewInt(5), []Share{{Key: "a", Weight: dec("-1")}})
	require.Error(t, err)
}

func TestDistributeProRataConservesRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for iter := 0; iter < 2000; iter++ {
		n := 1 + rng.Intn(20)
		shares := make([]Share, n)
		for i := range shares {
			shares[i] = Share{Key: string(rune('A' + i)), Weight: math.LegacyNewDecWithPrec(rng.Int63n(1e12)+1, int64(rng.Intn(10)))}
		}
		pool := math.NewInt(rng.Int63n(1e15))
		out, err := DistributeProRata(pool, shares)
		require.NoError(t, err)
		sum := math.ZeroInt()
		total := math.LegacyZeroDec()
		for _, s := range shares {
			total = total.Add(s.Weight)
		}
		for i, o := range out {
			require.False(t, o.IsNegative())
			sum = sum.Add(o)
			// Never more than one ubct away from the exact share.
			exact := math.LegacyNewDecFromInt(pool).Mul(shares[i].Weight).Quo(total)
			diff := math.LegacyNewDecFromInt(o).Sub(exact).Abs()
			require.True(t, diff.LTE(math.LegacyOneDec()), "share %d: %s vs %s", i, o, exact)
		}
		require.Equal(t, pool, sum)
	}
}

func TestSlash(t *testing.T) {
	s, err := SlashAmount(math.NewInt(1_000_000_005), dec("0.10"))
	require.NoError(t, err)
	require.Equal(t, math.NewInt(100_000_000), s)
	_, err = SlashAmount(math.NewInt(1), dec("1.1"))
	require.Error(t, err)

	sp, err := SplitSlash(math.NewInt(101), 2)
	require.NoError(t, err)
	require.Equal(t, []math.Int{math.NewInt(25), math.NewInt(25)}, sp.Exposers)
	require.Equal(t, math.NewInt(51), sp.Burned)

	sp, err = SplitSlash(math.NewInt(100), 1)
	require.NoError(t, err)
	require.Equal(t, math.NewInt(50), sp.Exposers[0])
	require.Equal(t, math.NewInt(50), sp.Burned)

	sp, err = SplitSlash(math.NewInt(100), 0)
	require.NoError(t, err)
	require.Empty(t, sp.Exposers)
	require.Equal(t, math.NewInt(100), sp.Burned)
	_, err = SplitSlash(math.NewInt(-1), 1)
	require.Error(t, err)
}

func TestNormalizedAverageBuildTime(t *testing.T) {
	one := math.LegacyOneDec()
	// With every factor 1 it is the plain mean u_a (x/bct/README.md).
	res, err := NormalizedAverageBuildTime([]uint64{1000, 1000, 1900}, []math.LegacyDec{one, one, one})
	require.NoError(t, err)
	require.Equal(t, dec("1300"), res.Average)

	// A lone report by a validator known to report 3× slow earns the
	// "average validator" time, not its inflated one.
	res, err = NormalizedAverageBuildTime([]uint64{3000}, []math.LegacyDec{dec("3")})
	require.NoError(t, err)
	require.Equal(t, dec("1000"), res.Average)
	require.Equal(t, dec("3"), res.Ratios[0])

	// A validator learning: reporting 3× in every two-report claim drives
	// its factor towards 3, where its reports become ordinary.
	e := []math.LegacyDec{one, one}
	for i := 0; i < 200; i++ {
		res, err = NormalizedAverageBuildTime([]uint64{1000, 3000}, e)
		require.NoError(t, err)
		for k := range e {
			e[k], err = UpdateEfficiency(e[k], res.Ratios[k], DefaultEfficiencyWeight)
			require.NoError(t, err)
		}
	}
	t.Logf("factors %s %s", e[0], e[1])
	require.True(t, e[1].Quo(e[0]).Sub(dec("3")).Abs().LT(dec("0.01")), "%s / %s", e[1], e[0])

	// Ratios are clamped.
	res, err = NormalizedAverageBuildTime([]uint64{1, 1000, 1000}, []math.LegacyDec{one, one, one})
	require.NoError(t, err)
	require.Equal(t, math.LegacyOneDec().QuoInt64(MaxRatio), res.Ratios[0])

	_, err = NormalizedAverageBuildTime([]uint64{1}, nil)
	require.Error(t, err)
	_, err = NormalizedAverageBuildTime([]uint64{1}, []math.LegacyDec{math.LegacyZeroDec()})
	require.Error(t, err)
	_, err = NormalizedAverageBuildTime(nil, nil)
	require.ErrorIs(t, err, ErrNoReports)
}

func TestEfficiencyWeight(t *testing.T) {
	require.Equal(t, math.LegacyOneDec(), EfficiencyWeight(0))
	require.Equal(t, dec("0.5"), EfficiencyWeight(1))
	require.Equal(t, DefaultEfficiencyWeight, EfficiencyWeight(7))
	require.Equal(t, DefaultEfficiencyWeight, EfficiencyWeight(1000))
	require.Equal(t, DefaultEfficiencyWeight, EfficiencyWeight(^uint64(0)))
}
