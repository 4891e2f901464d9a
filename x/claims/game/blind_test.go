package game

import (
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"
)

func TestAfterCommit(t *testing.T) {
	r := Rules{PContinue: sdkmath.LegacyNewDecWithPrec(3, 1), MinRounds: 2, MaxRounds: 3}
	var seed [32]byte
	d, err := AfterCommit(r, 1, seed)
	require.NoError(t, err)
	require.Equal(t, Continue, d, "below min_rounds")
	d, err = AfterCommit(r, 3, seed)
	require.NoError(t, err)
	require.Equal(t, Reveal, d, "at max_rounds")
	// Between: the coin, with the frequency p_continue.
	cont := 0
	for i := uint64(0); i < 2000; i++ {
		d, err := AfterCommit(r, 2, ContinueSeed([]byte("rnd"), i, 2))
		require.NoError(t, err)
		require.Contains(t, []Decision{Continue, Reveal}, d)
		if d == Continue {
			cont++
		}
	}
	require.InDelta(t, 600, cont, 80) // 2000·0.3 ± 4σ (σ ≈ 20.5)
	_, err = AfterCommit(Rules{PContinue: sdkmath.LegacyNewDec(2), MinRounds: 1, MaxRounds: 1}, 1, seed)
	require.Error(t, err)
}

func TestEvaluate(t *testing.T) {
	agreed := func(n uint32) Round { return Round{Round: n, State: RoundAgreed} }
	rev := func(n uint32, out string) Round { return Round{Round: n, State: RoundRevealed, Output: out} }
	for name, tc := range map[string]struct {
		rounds []Round
		want   Verdict
	}{
		"all equal":                {[]Round{rev(1, "o"), rev(2, "o")}, Verdict{Decision: Valid}},
		"settled earlier":          {[]Round{agreed(1), rev(2, "o")}, Verdict{Decision: Valid}},
		"a dissent":                {[]Round{rev(1, "o"), rev(2, "x")}, Verdict{Decision: Dispute, Round: 2}},
		"first dissent first":      {[]Round{rev(1, "y"), rev(2, "x")}, Verdict{Decision: Dispute, Round: 1}},
		"dispute before replay":    {[]Round{{Round: 1, State: RoundVoid}, rev(2, "x")}, Verdict{Decision: Dispute, Round: 2}},
		"a void round is replayed": {[]Round{rev(1, "o"), {Round: 2, State: RoundVoid}}, Verdict{Decision: Replay, Round: 2}},
		"waiting":                  {[]Round{rev(1, "x"), {Round: 2, State: RoundWaiting}}, Verdict{Decision: Continue}},
	} {
		require.Equal(t, tc.want, Evaluate("o", tc.rounds), name)
	}
}
