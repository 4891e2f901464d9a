package assign

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"
)

func addr(i byte) []byte { return bytes.Repeat([]byte{i}, 20) }

// TestAssignmentStatistics is the statistics test: 10,000 draws over
// validators with unequal bonds; each validator's count lies within 3σ of its
// expected share (binomial σ = sqrt(n·p·(1-p))) and excluded validators are
// never chosen.
func TestAssignmentStatistics(t *testing.T) {
	bonds := []int64{1_000, 2_000, 3_000, 5_000, 9_000, 30_000, 50_000}
	var cands []Candidate
	for i, b := range bonds {
		cands = append(cands, Candidate{Address: addr(byte(i + 1)), Weight: sdkmath.NewInt(b)})
	}
	excluded := map[string]bool{string(addr(4)): true, string(addr(7)): true} // 5,000 and 50,000
	exclude := func(a []byte) bool { return excluded[string(a)] }

	var total int64
	for i, b := range bonds {
		if !excluded[string(addr(byte(i+1)))] {
			total += b
		}
	}
	const n = 10_000
	counts := map[string]int{}
	randomness := bytes.Repeat([]byte{0xab}, 64)
	for d := 0; d < n; d++ {
		// Vary claim id and round the way the chain does.
		c, err := Pick(cands, Seed(randomness, uint64(d/8), uint32(d%8)), exclude)
		require.NoError(t, err)
		require.False(t, excluded[string(c.Address)], "picked an excluded validator")
		counts[string(c.Address)]++
	}
	for i, b := range bonds {
		a := string(addr(byte(i + 1)))
		if excluded[a] {
			require.Zero(t, counts[a])
			continue
		}
		p := float64(b) / float64(total) // floats only in the test's statistics
		exp := n * p
		sigma := math.Sqrt(n * p * (1 - p))
		got := float64(counts[a])
		t.Logf("bond %6d: expected %7.1f ± %5.1f, got %5.0f (%+.2fσ)", b, exp, sigma, got, (got-exp)/sigma)
		require.InDelta(t, exp, got, 3*sigma, "validator with bond %d", b)
	}
}

func TestPickDeterministicAndOrderIndependent(t *testing.T) {
	cands := []Candidate{
		{Address: addr(3), Weight: sdkmath.NewInt(7)},
		{Address: addr(1), Weight: sdkmath.NewInt(11)},
		{Address: addr(2), Weight: sdkmath.NewInt(5)},
	}
	rev := []Candidate{cands[2], cands[1], cands[0]}
	for i := 0; i < 200; i++ {
		s := Seed([]byte("r"), uint64(i), 1)
		a, err := Pick(cands, s, nil)
		require.NoError(t, err)
		b, err := Pick(rev, s, nil)
		require.NoError(t, err)
		require.Equal(t, a.Address, b.Address)
	}
	require.Equal(t, addr(3), cands[0].Address, "input must not be reordered")
}

func TestPickErrors(t *testing.T) {
	_, err := Pick(nil, Seed(nil, 1, 1), nil)
	require.ErrorIs(t, err, ErrNoCandidate)
	only := []Candidate{{Address: addr(1), Weight: sdkmath.NewInt(10)}, {Address: addr(2), Weight: sdkmath.ZeroInt()}}
	_, err = Pick(only, Seed(nil, 1, 1), func(a []byte) bool { return bytes.Equal(a, addr(1)) })
	require.ErrorIs(t, err, ErrNoCandidate, "zero weight never wins")
	dup := []Candidate{{Address: addr(1), Weight: sdkmath.NewInt(1)}, {Address: addr(1), Weight: sdkmath.NewInt(1)}}
	_, err = Pick(dup, Seed(nil, 1, 1), nil)
	require.ErrorContains(t, err, "duplicate")
	c, err := Pick(only, Seed(nil, 1, 1), nil)
	require.NoError(t, err)
	require.Equal(t, addr(1), c.Address)
}

func TestSeedSeparatesInputs(t *testing.T) {
	r := []byte("randomness")
	seen := map[[32]byte]bool{}
	for id := uint64(0); id < 20; id++ {
		for round := uint32(0); round < 20; round++ {
			s := Seed(r, id, round)
			require.False(t, seen[s])
			seen[s] = true
		}
	}
	require.NotEqual(t, Seed([]byte("a"), 1, 1), Seed([]byte("b"), 1, 1))
}

func TestUniformBelow(t *testing.T) {
	_, err := UniformBelow([32]byte{}, big.NewInt(0))
	require.Error(t, err)
	tooBig := new(big.Int).Lsh(big.NewInt(1), 257)
	_, err = UniformBelow([32]byte{}, tooBig)
	require.Error(t, err)
	// n = 3: chi-square-free sanity check: every residue appears, none outside.
	hits := [3]int{}
	for i := 0; i < 3000; i++ {
		var s [32]byte
		binary.BigEndian.PutUint64(s[:], uint64(i))
		x, err := UniformBelow(s, big.NewInt(3))
		require.NoError(t, err)
		hits[x.Int64()]++
	}
	for _, h := range hits {
		require.InDelta(t, 1000, h, 3*math.Sqrt(3000*(1.0/3)*(2.0/3)))
	}
	// n = 2^256 is allowed and accepts every value.
	x, err := UniformBelow([32]byte{1}, new(big.Int).Lsh(big.NewInt(1), 256))
	require.NoError(t, err)
	require.True(t, x.Sign() >= 0)
}

func TestWeight(t *testing.T) {
	bond := sdkmath.NewInt(1_000_000)
	require.Equal(t, bond, Weight(bond, sdkmath.LegacyNewDec(2), false))
	require.Equal(t, sdkmath.NewInt(500_000), Weight(bond, sdkmath.LegacyNewDec(2), true))
	require.Equal(t, bond, Weight(bond, sdkmath.LegacyDec{}, true), "no history counts as 1")
	require.Equal(t, sdkmath.NewInt(250_000), Weight(bond, sdkmath.LegacyNewDec(100), true), "clamped at 4")
	require.Equal(t, sdkmath.NewInt(4_000_000), Weight(bond, sdkmath.LegacyNewDecWithPrec(1, 3), true), "clamped at 1/4")
	require.True(t, Weight(sdkmath.ZeroInt(), sdkmath.LegacyOneDec(), true).IsZero())
}
