package tally

import (
	"crypto/sha256"
	"fmt"
)

// Outcome is a market outcome. The values equal the x/market proto enum.
type Outcome int32

const (
	// Unspecified is no outcome (an unrevealed prediction).
	Unspecified Outcome = 0
	// NonDeterminism: the two outputs differ because the build is not
	// reproducible; nobody lied and the claim's game continues.
	NonDeterminism Outcome = 1
	// MisbehaviourClaim: the publisher's output (and every validator that
	// agreed with it) is a lie.
	MisbehaviourClaim Outcome = 2
	// MisbehaviourReport: the dissenting validator's report is a lie.
	MisbehaviourReport Outcome = 3
)

// Valid reports whether o is one of the three outcomes a prediction may name.
func (o Outcome) Valid() bool { return o >= NonDeterminism && o <= MisbehaviourReport }

func (o Outcome) String() string {
	switch o {
	case NonDeterminism:
		return "NON_DETERMINISM"
	case MisbehaviourClaim:
		return "MISBEHAVIOUR_CLAIM"
	case MisbehaviourReport:
		return "MISBEHAVIOUR_REPORT"
	default:
		return fmt.Sprintf("OUTCOME_UNSPECIFIED(%d)", int32(o))
	}
}

// Salt length bounds. 16 bytes (128 bits) already make the outcome
// (3 possibilities) unguessable from the hash; 64 leaves room for callers
// that derive salts from longer secrets.
const (
	MinSaltLen = 16
	MaxSaltLen = 64
)

// ValidateSalt checks the salt length.
func ValidateSalt(salt []byte) error {
	if len(salt) < MinSaltLen || len(salt) > MaxSaltLen {
		return fmt.Errorf("salt is %d bytes: must be %d..%d", len(salt), MinSaltLen, MaxSaltLen)
	}
	return nil
}

// CommitHash is the hash committed to by MsgCommitPrediction
// (x/market/README.md: hash(outcome ‖ salt ‖ sender)), with this exact byte encoding:
//
//	sha256( outcome as 1 byte ‖ len(salt) as 1 byte ‖ salt ‖ sender )
//
// where sender is the raw account address bytes (not bech32). The length
// byte makes the encoding injective (salt and sender cannot trade bytes);
// binding the sender stops another account from copying a commit and
// revealing it after the original reveal becomes public.
func CommitHash(o Outcome, salt, sender []byte) ([]byte, error) {
	if !o.Valid() {
		return nil, fmt.Errorf("invalid outcome %d", int32(o))
	}
	if err := ValidateSalt(salt); err != nil {
		return nil, err
	}
	if len(sender) == 0 {
		return nil, fmt.Errorf("empty sender")
	}
	h := sha256.New()
	h.Write([]byte{byte(o), byte(len(salt))})
	h.Write(salt)
	h.Write(sender)
	return h.Sum(nil), nil
}
