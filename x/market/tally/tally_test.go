package tally

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"testing"

	"cosmossdk.io/math"
	"github.com/stretchr/testify/require"
)

func TestCommitHashEncoding(t *testing.T) {
	salt := bytes.Repeat([]byte{0xab}, 16)
	sender := bytes.Repeat([]byte{0x01}, 20)
	h, err := CommitHash(MisbehaviourClaim, salt, sender)
	require.NoError(t, err)
	want := sha256.Sum256(append(append([]byte{2, 16}, salt...), sender...))
	require.Equal(t, want[:], h)

	// Every input changes the hash.
	h2, _ := CommitHash(NonDeterminism, salt, sender)
	require.NotEqual(t, h, h2)
	salt2 := bytes.Repeat([]byte{0xac}, 16)
	h3, _ := CommitHash(MisbehaviourClaim, salt2, sender)
	require.NotEqual(t, h, h3)
	h4, _ := CommitHash(MisbehaviourClaim, salt, bytes.Repeat([]byte{0x02}, 20))
	require.NotEqual(t, h, h4)

	_, err = CommitHash(Unspecified, salt, sender)
	require.Error(t, err)
	_, err = CommitHash(Outcome(4), salt, sender)
	require.Error(t, err)
	_, err = CommitHash(NonDeterminism, salt[:15], sender)
	require.ErrorContains(t, err, "salt")
	_, err = CommitHash(NonDeterminism, bytes.Repeat([]byte{1}, 65), sender)
	require.ErrorContains(t, err, "salt")
	_, err = CommitHash(NonDeterminism, salt, nil)
	require.Error(t, err)
}

func p(key string, stake int64, o Outcome) Prediction {
	return Prediction{Key: key, Stake: math.NewInt(stake), Revealed: o != Unspecified, Outcome: o}
}

func ints(v ...int64) []math.Int {
	out := make([]math.Int, len(v))
	for i, x := range v {
		out[i] = math.NewInt(x)
	}
	return out
}

func TestResolvePlurality(t *testing.T) {
	preds := []Prediction{
		p("a", 100, MisbehaviourClaim),
		p("b", 50, MisbehaviourClaim),
		p("c", 120, NonDeterminism),
		p("d", 30, Unspecified), // committed, never revealed
	}
	res, err := Resolve(preds, math.NewInt(100), math.LegacyMustNewDecFromStr("0.1"))
	require.NoError(t, err)
	require.True(t, res.Decided)
	require.Equal(t, MisbehaviourClaim, res.Outcome)
	require.Equal(t, ReasonPlurality, res.Reason)
	// Forfeited 120 + 30 = 150, fee 15, 135 shared 100:50 → 90, 45.
	require.Equal(t, math.NewInt(15), res.Fee)
	require.Equal(t, ints(190, 95, 0, 0), res.Payouts)
	require.True(t, res.Burned.IsZero())
	require.Equal(t, math.NewInt(270), res.RevealedStake)
	require.Equal(t, math.NewInt(300), res.TotalStake)
}

func TestResolveNoQuorum(t *testing.T) {
	// Revealed stake 60 < quorum 100: NON_DETERMINISM, undecided; both
	// revealers (even the one who said MISBEHAVIOUR_REPORT) keep their
	// stake and share the non-revealer's.
	preds := []Prediction{p("a", 40, MisbehaviourReport), p("b", 20, NonDeterminism), p("c", 30, Unspecified)}
	res, err := Resolve(preds, math.NewInt(100), math.LegacyMustNewDecFromStr("0.1"))
	require.NoError(t, err)
	require.False(t, res.Decided)
	require.Equal(t, NonDeterminism, res.Outcome)
	require.Equal(t, ReasonNoQuorum, res.Reason)
	require.Equal(t, math.NewInt(3), res.Fee)
	require.Equal(t, ints(58, 29, 0), res.Payouts) // 27 shared 40:20 = 18, 9

	// Nobody revealed: everything forfeited is burned.
	res, err = Resolve([]Prediction{p("a", 40, Unspecified)}, math.ZeroInt(), math.LegacyMustNewDecFromStr("0.1"))
	require.NoError(t, err)
	require.Equal(t, ReasonNoQuorum, res.Reason)
	require.Equal(t, math.NewInt(40), res.Burned)
	require.True(t, res.Fee.IsZero())

	// An empty market is undecided too.
	res, err = Resolve(nil, math.ZeroInt(), math.LegacyZeroDec())
	require.NoError(t, err)
	require.Equal(t, NonDeterminism, res.Outcome)
	require.False(t, res.Decided)
}

func TestResolveTie(t *testing.T) {
	preds := []Prediction{p("a", 50, MisbehaviourClaim), p("b", 50, MisbehaviourReport), p("c", 10, NonDeterminism)}
	res, err := Resolve(preds, math.NewInt(1), math.LegacyZeroDec())
	require.NoError(t, err)
	require.False(t, res.Decided)
	require.Equal(t, ReasonTie, res.Reason)
	require.Equal(t, NonDeterminism, res.Outcome)
	require.Equal(t, ints(50, 50, 10), res.Payouts)

	// A tie below the top is not a tie.
	preds = []Prediction{p("a", 50, MisbehaviourClaim), p("b", 10, MisbehaviourReport), p("c", 10, NonDeterminism)}
	res, err = Resolve(preds, math.NewInt(1), math.LegacyZeroDec())
	require.NoError(t, err)
	require.True(t, res.Decided)
	require.Equal(t, MisbehaviourClaim, res.Outcome)
	require.Equal(t, ints(70, 0, 0), res.Payouts)
}

func TestResolveBadInput(t *testing.T) {
	_, err := Resolve([]Prediction{p("a", 0, NonDeterminism)}, math.ZeroInt(), math.LegacyZeroDec())
	require.Error(t, err)
	_, err = Resolve([]Prediction{{Key: "a", Stake: math.NewInt(1), Revealed: true, Outcome: 9}}, math.ZeroInt(), math.LegacyZeroDec())
	require.Error(t, err)
	_, err = Resolve(nil, math.NewInt(-1), math.LegacyZeroDec())
	require.Error(t, err)
	_, err = Resolve(nil, math.ZeroInt(), math.LegacyMustNewDecFromStr("1.5"))
	require.Error(t, err)
	_, err = Resolve([]Prediction{p("a", 1, NonDeterminism), p("a", 1, NonDeterminism)}, math.ZeroInt(), math.LegacyZeroDec())
	require.ErrorContains(t, err, "duplicate")
}

func TestResolveConservesRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for iter := 0; iter < 3000; iter++ {
		n := rng.Intn(12)
		preds := make([]Prediction, n)
		for i := range preds {
			preds[i] = p(fmt.Sprintf("acc%02d", i), 1+rng.Int63n(1e9), Outcome(rng.Intn(4)))
		}
		fee := math.LegacyNewDecWithPrec(rng.Int63n(1001), 3)
		res, err := Resolve(preds, math.NewInt(rng.Int63n(3e9)), fee)
		require.NoError(t, err)
		sum := res.Fee.Add(res.Burned)
		for i, pay := range res.Payouts {
			sum = sum.Add(pay)
			if !preds[i].Revealed {
				require.True(t, pay.IsZero(), "non-revealer paid")
			}
			if res.Decided && preds[i].Revealed && preds[i].Outcome == res.Outcome {
				require.True(t, pay.GTE(preds[i].Stake), "winner lost stake")
			}
		}
		require.Equal(t, res.TotalStake, sum)
	}
}
