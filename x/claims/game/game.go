package game

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"

	sdkmath "cosmossdk.io/math"

	"github.com/buildchain/buildchain/x/validators/assign"
)

// Decision is what happens to a claim after a report.
type Decision int

const (
	// Continue plays another round with a newly assigned validator.
	Continue Decision = iota + 1
	// Valid ends the game: the claim is verified.
	Valid
	// Dispute ends the round with a mismatch: the claim goes to a market.
	Dispute
)

func (d Decision) String() string {
	switch d {
	case Continue:
		return "continue"
	case Valid:
		return "valid"
	case Dispute:
		return "dispute"
	case Reveal:
		return "reveal"
	case Replay:
		return "replay"
	default:
		return fmt.Sprintf("decision(%d)", int(d))
	}
}

// Rules are the game's parameters (x/claims Params).
type Rules struct {
	PContinue sdkmath.LegacyDec
	MinRounds uint32
	MaxRounds uint32
}

// Validate checks the rules are playable.
func (r Rules) Validate() error {
	if r.PContinue.IsNil() || r.PContinue.IsNegative() || r.PContinue.GT(sdkmath.LegacyOneDec()) {
		return fmt.Errorf("p_continue must be in [0, 1], got %v", r.PContinue)
	}
	if r.MinRounds == 0 {
		return fmt.Errorf("min_rounds must be at least 1")
	}
	if r.MaxRounds < r.MinRounds {
		return fmt.Errorf("max_rounds (%d) must be >= min_rounds (%d)", r.MaxRounds, r.MinRounds)
	}
	return nil
}

// ContinueSeed is the coin for "another round?" after round `round` of a
// claim. It is domain-separated from the assignment seed so the same block
// randomness does not correlate the coin with who gets picked next.
func ContinueSeed(randomness []byte, claimID uint64, round uint32) [32]byte {
	h := sha256.New()
	h.Write([]byte("buildchain/continue/v1"))
	h.Write(randomness)
	var buf [12]byte
	binary.BigEndian.PutUint64(buf[:8], claimID)
	binary.BigEndian.PutUint32(buf[8:], round)
	h.Write(buf[:])
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// decPrecisionUnit is 10^18, the fixed-point unit of LegacyDec.
var decPrecisionUnit = new(big.Int).Exp(big.NewInt(10), big.NewInt(sdkmath.LegacyPrecision), nil)

// Coin returns true with probability p (a LegacyDec in [0, 1]) from seed:
// u is uniform in [0, 10^18) and the coin is heads iff u < p·10^18, which is
// exact for every p LegacyDec can represent.
func Coin(seed [32]byte, p sdkmath.LegacyDec) (bool, error) {
	if p.IsNil() || p.IsNegative() || p.GT(sdkmath.LegacyOneDec()) {
		return false, fmt.Errorf("probability must be in [0, 1], got %v", p)
	}
	u, err := assign.UniformBelow(seed, decPrecisionUnit)
	if err != nil {
		return false, err
	}
	return u.Cmp(p.BigInt()) < 0, nil
}

// AfterAgreement decides what follows when the report of round `round`
// (1-based, the number of rounds played so far) agreed with the claim:
// fewer than min_rounds → continue; max_rounds reached → valid; otherwise
// continue with probability p_continue.
func AfterAgreement(r Rules, round uint32, seed [32]byte) (Decision, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	if round < r.MinRounds {
		return Continue, nil
	}
	if round >= r.MaxRounds {
		return Valid, nil
	}
	heads, err := Coin(seed, r.PContinue)
	if err != nil {
		return 0, err
	}
	if heads {
		return Continue, nil
	}
	return Valid, nil
}

// AfterReport decides the next step from the claimed and reported outputs.
// Outputs are compared as canonical CID strings (the msg server normalises
// them), so equal content always compares equal.
func AfterReport(r Rules, claimedOutput, reportedOutput string, round uint32, seed [32]byte) (Decision, error) {
	if claimedOutput != reportedOutput {
		return Dispute, nil
	}
	return AfterAgreement(r, round, seed)
}
