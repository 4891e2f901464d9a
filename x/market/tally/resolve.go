package tally

import (
	"fmt"

	"cosmossdk.io/math"

	"github.com/buildchain/buildchain/x/bct/economics"
)

// Prediction is one committed prediction as the resolver sees it.
type Prediction struct {
	// Key is the predictor's address; one prediction per address.
	Key string
	// Stake locked with the commit.
	Stake math.Int
	// Revealed is true once a matching reveal was accepted.
	Revealed bool
	// Outcome revealed (Unspecified when not revealed).
	Outcome Outcome
}

// Reason says why a market ended as it did.
type Reason string

const (
	ReasonPlurality Reason = "plurality"
	ReasonNoQuorum  Reason = "no_quorum"
	ReasonTie       Reason = "tie"
)

// Result is a resolved market.
type Result struct {
	// Outcome is the market's verdict. An undecided market (no quorum or a
	// tie) is NON_DETERMINISM, and the claim's game gets extra rounds.
	Outcome Outcome
	// Decided is false for no quorum and ties.
	Decided bool
	Reason  Reason
	// StakeByOutcome[o] is the revealed stake behind outcome o (index 0 unused).
	StakeByOutcome [4]math.Int
	// RevealedStake is the sum of revealed stakes; TotalStake of all stakes.
	RevealedStake, TotalStake math.Int
	// Payouts[i] is what predictions[i]'s owner receives back (stake and
	// winnings; zero for a loser or non-revealer).
	Payouts []math.Int
	// Fee is the market fee taken from the forfeited stakes.
	Fee math.Int
	// Burned is forfeited stake nobody can receive (nobody revealed).
	Burned math.Int
}

// Resolve tallies a market at reveal_end.
//
// Rules (docs/ARCHITECTURE.md §Economics, with the team's decisions):
//   - Only revealed stake counts. If it is below quorum (or zero), the market
//     is undecided: NON_DETERMINISM with extra rounds.
//   - Otherwise the outcome with the most revealed stake wins. A tie for the
//     most stake is undecided too: nobody is slashed without a plurality
//     (the benefit of the doubt), and the extra rounds the claim gets bring
//     more independent builds, i.e. more evidence, for a later market.
//   - Winners (decided: the revealers of the winning outcome; undecided:
//     every revealer, since there was no wrong answer) get their stake back
//     plus a pro-rata share (by stake, largest remainder, ties by address) of
//     the forfeited stakes — losers' and non-revealers' — minus
//     fee = floor(forfeited × marketFee).
//   - If nobody can receive the forfeited stakes (nobody revealed), they are
//     burned and no fee is taken.
//
// Sum(Payouts) + Fee + Burned == TotalStake exactly.
func Resolve(preds []Prediction, quorum math.Int, marketFee math.LegacyDec) (Result, error) {
	if quorum.IsNil() || quorum.IsNegative() {
		return Result{}, fmt.Errorf("quorum %v must be non-negative", quorum)
	}
	if marketFee.IsNil() || marketFee.IsNegative() || marketFee.GT(math.LegacyOneDec()) {
		return Result{}, fmt.Errorf("market fee %v outside [0,1]", marketFee)
	}
	res := Result{
		RevealedStake: math.ZeroInt(), TotalStake: math.ZeroInt(),
		Payouts: make([]math.Int, len(preds)), Fee: math.ZeroInt(), Burned: math.ZeroInt(),
	}
	for i := range res.StakeByOutcome {
		res.StakeByOutcome[i] = math.ZeroInt()
	}
	for i, p := range preds {
		if p.Stake.IsNil() || !p.Stake.IsPositive() {
			return Result{}, fmt.Errorf("prediction %q has non-positive stake %v", p.Key, p.Stake)
		}
		if p.Revealed && !p.Outcome.Valid() {
			return Result{}, fmt.Errorf("prediction %q revealed invalid outcome %d", p.Key, p.Outcome)
		}
		res.TotalStake = res.TotalStake.Add(p.Stake)
		res.Payouts[i] = math.ZeroInt()
		if p.Revealed {
			res.RevealedStake = res.RevealedStake.Add(p.Stake)
			res.StakeByOutcome[p.Outcome] = res.StakeByOutcome[p.Outcome].Add(p.Stake)
		}
	}

	// The verdict.
	res.Outcome, res.Reason = NonDeterminism, ReasonNoQuorum
	if res.RevealedStake.IsPositive() && res.RevealedStake.GTE(quorum) {
		best, tie := NonDeterminism, false
		for o := NonDeterminism + 1; o <= MisbehaviourReport; o++ {
			switch res.StakeByOutcome[o].BigInt().Cmp(res.StakeByOutcome[best].BigInt()) {
			case 1:
				best, tie = o, false
			case 0:
				tie = true
			}
		}
		if tie {
			res.Outcome, res.Reason = NonDeterminism, ReasonTie
		} else {
			res.Outcome, res.Reason, res.Decided = best, ReasonPlurality, true
		}
	}

	// Who wins: revealers of the verdict (decided) or all revealers.
	isWinner := func(p Prediction) bool {
		return p.Revealed && (!res.Decided || p.Outcome == res.Outcome)
	}
	forfeited := math.ZeroInt()
	var shares []economics.Share
	var winIdx []int
	for i, p := range preds {
		if isWinner(p) {
			res.Payouts[i] = p.Stake
			shares = append(shares, economics.Share{Key: p.Key, Weight: math.LegacyNewDecFromInt(p.Stake)})
			winIdx = append(winIdx, i)
		} else {
			forfeited = forfeited.Add(p.Stake)
		}
	}
	if len(shares) == 0 {
		res.Burned = forfeited
		return res, nil
	}
	res.Fee = economics.MulDecFloor(forfeited, marketFee)
	winnings, err := economics.DistributeProRata(forfeited.Sub(res.Fee), shares)
	if err != nil {
		return Result{}, fmt.Errorf("distribute market winnings: %w", err)
	}
	for k, i := range winIdx {
		res.Payouts[i] = res.Payouts[i].Add(winnings[k])
	}
	return res, nil
}
