package game

// Blind rounds (x/claims/README.md §Blind rounds): every round's builder commits to its result
// before anything is revealed, so how many rounds a claim plays is drawn at each commit,
// independently of what the rounds say, and the verdict is taken once the publisher's output
// and the builders' results are revealed. Drawing the count at commit time keeps the
// acceptance formula of README.md §Parameters exact: a fake passes only if every drawn round
// landed on a colluder.

// Reveal is the decision after a commit that ends the commit phase: no more rounds are drawn;
// the publisher and the builders reveal.
const Reveal Decision = 10

// Replay is the verdict for a round that must be played again (its builder did not reveal,
// revealed something that did not match its commitment, or was judged a liar by a market).
const Replay Decision = 11

// AfterCommit decides, after the commit of round `round` (1-based), whether another round is
// drawn (Continue) or the reveals open (Reveal): below min_rounds always another, at
// max_rounds never, otherwise another with probability p_continue.
func AfterCommit(r Rules, round uint32, seed [32]byte) (Decision, error) {
	d, err := AfterAgreement(r, round, seed)
	if err != nil {
		return 0, err
	}
	if d == Valid {
		return Reveal, nil
	}
	return d, nil
}

// RoundState is what the chain knows of one round when it evaluates a claim.
type RoundState int

const (
	// RoundAgreed: revealed the claimed output, or a market judged its difference
	// non-determinism.
	RoundAgreed RoundState = iota + 1
	// RoundRevealed: revealed an output not yet compared.
	RoundRevealed
	// RoundVoid: no valid result (missed the commit or reveal deadline, a reveal that did not
	// match its commitment, or a report a market judged a lie): the round is played again.
	RoundVoid
	// RoundWaiting: a commit or reveal is still awaited.
	RoundWaiting
)

// Round is one round's latest result.
type Round struct {
	Round  uint32
	State  RoundState
	Output string // when RoundRevealed
}

// Verdict is the outcome of an evaluation.
type Verdict struct {
	// Decision: Valid, Dispute (Round is the first dissenting round), Replay (Round is the
	// first void round), or Continue (something is still awaited; nothing to do).
	Decision Decision
	Round    uint32
}

// Evaluate takes the verdict on a claim whose publisher revealed `claimed`, from its rounds in
// order. Disputes come before replays: a dissent already revealed is judged by a market
// before any void round is played again (its replay is not blind any more, the output being
// public, so a market verdict first is the safer order); a claim is VALID only when every
// round agreed.
func Evaluate(claimed string, rounds []Round) Verdict {
	for _, r := range rounds {
		if r.State == RoundWaiting {
			return Verdict{Decision: Continue}
		}
	}
	for _, r := range rounds {
		if r.State == RoundRevealed && r.Output != claimed {
			return Verdict{Decision: Dispute, Round: r.Round}
		}
	}
	for _, r := range rounds {
		if r.State == RoundVoid {
			return Verdict{Decision: Replay, Round: r.Round}
		}
	}
	return Verdict{Decision: Valid}
}
