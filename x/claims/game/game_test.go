package game

import (
	"math"
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"
)

func rules(p string, minR, maxR uint32) Rules {
	return Rules{PContinue: sdkmath.LegacyMustNewDecFromStr(p), MinRounds: minR, MaxRounds: maxR}
}

func TestAfterReportMismatchDisputes(t *testing.T) {
	d, err := AfterReport(rules("0.5", 1, 8), "bafyA", "bafyB", 1, ContinueSeed(nil, 1, 1))
	require.NoError(t, err)
	require.Equal(t, Dispute, d)
}

func TestBoundsByMinMaxRounds(t *testing.T) {
	r := rules("0.5", 3, 5)
	for i := 0; i < 100; i++ {
		s := ContinueSeed([]byte{byte(i)}, uint64(i), 1)
		for round := uint32(1); round < 3; round++ {
			d, err := AfterAgreement(r, round, s)
			require.NoError(t, err)
			require.Equal(t, Continue, d, "below min_rounds always continues")
		}
		for _, round := range []uint32{5, 6} {
			d, err := AfterAgreement(r, round, s)
			require.NoError(t, err)
			require.Equal(t, Valid, d, "at max_rounds always valid")
		}
	}
	// p = 0 never continues past min, p = 1 always continues to max.
	for i := 0; i < 50; i++ {
		s := ContinueSeed([]byte("x"), uint64(i), 3)
		d, _ := AfterAgreement(rules("0", 1, 8), 3, s)
		require.Equal(t, Valid, d)
		d, _ = AfterAgreement(rules("1", 1, 8), 3, s)
		require.Equal(t, Continue, d)
	}
}

// With p_continue = 0.5, min 1, max 8, the number of rounds played is
// geometric truncated at 8: P(rounds = k) = 0.5^k for k < 8, 0.5^7 for k = 8.
func TestRoundsDistribution(t *testing.T) {
	r := rules("0.5", 1, 8)
	const n = 20_000
	counts := make([]int, 9)
	for c := 0; c < n; c++ {
		round := uint32(1)
		for {
			d, err := AfterAgreement(r, round, ContinueSeed([]byte("beacon"), uint64(c), round))
			require.NoError(t, err)
			if d == Valid {
				break
			}
			round++
		}
		counts[round]++
	}
	for k := 1; k <= 8; k++ {
		p := math.Pow(0.5, float64(k))
		if k == 8 {
			p = math.Pow(0.5, 7)
		}
		exp := n * p
		sigma := math.Sqrt(n * p * (1 - p))
		require.InDelta(t, exp, float64(counts[k]), 3*sigma+1, "rounds=%d", k)
	}
}

func TestCoinExactEdges(t *testing.T) {
	_, err := Coin([32]byte{}, sdkmath.LegacyNewDec(2))
	require.Error(t, err)
	_, err = Coin([32]byte{}, sdkmath.LegacyNewDec(-1))
	require.Error(t, err)
	heads := 0
	p := sdkmath.LegacyMustNewDecFromStr("0.1")
	for i := 0; i < 10_000; i++ {
		h, err := Coin(ContinueSeed(nil, uint64(i), 0), p)
		require.NoError(t, err)
		if h {
			heads++
		}
	}
	require.InDelta(t, 1000, heads, 3*math.Sqrt(10_000*0.1*0.9))
}

func TestRulesValidate(t *testing.T) {
	require.NoError(t, rules("0.5", 1, 8).Validate())
	require.Error(t, rules("1.5", 1, 8).Validate())
	require.Error(t, rules("0.5", 0, 8).Validate())
	require.Error(t, rules("0.5", 5, 4).Validate())
	_, err := AfterAgreement(Rules{MinRounds: 1, MaxRounds: 2}, 1, [32]byte{})
	require.Error(t, err, "nil p_continue")
	require.Equal(t, "dispute", Dispute.String())
}
