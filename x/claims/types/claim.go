package types

import "fmt"

// OpenAssignment returns the index of the assignment awaiting a report, or -1.
func (c Claim) OpenAssignment() int {
	for i := len(c.Assignments) - 1; i >= 0; i-- {
		if c.Assignments[i].Status == ROUND_STATUS_ASSIGNED {
			return i
		}
	}
	return -1
}

// DisputedAssignment returns the index of the report that disputed the claim, or -1.
func (c Claim) DisputedAssignment() int {
	for i := len(c.Assignments) - 1; i >= 0; i-- {
		if c.Assignments[i].Status == ROUND_STATUS_DISAGREED {
			return i
		}
	}
	return -1
}

// AgreedRounds counts reports that count as agreeing (equal output, or a difference the
// market judged non-determinism).
func (c Claim) AgreedRounds() uint32 {
	var n uint32
	for _, a := range c.Assignments {
		if a.Status == ROUND_STATUS_AGREED || a.Status == ROUND_STATUS_NON_DETERMINISM {
			n++
		}
	}
	return n
}

// IsBlind reports whether the claim is blind: its output was committed, not announced
// (README.md §Blind rounds).
func (c Claim) IsBlind() bool { return len(c.OutputCommitment) > 0 }

// Revealed reports whether the claimed output is known (always for an open claim).
func (c Claim) Revealed() bool { return c.OutputCid != "" }

// LatestAssignment returns the index of the newest assignment of round r, or -1.
func (c Claim) LatestAssignment(r uint32) int {
	for i := len(c.Assignments) - 1; i >= 0; i-- {
		if c.Assignments[i].Round == r {
			return i
		}
	}
	return -1
}

// HasValidator reports whether addr was ever assigned to the claim.
func (c Claim) HasValidator(addr string) bool {
	for _, a := range c.Assignments {
		if a.Validator == addr {
			return true
		}
	}
	return false
}

// IsFinal reports whether the game of the claim is over.
func (s ClaimStatus) IsFinal() bool {
	return s == CLAIM_STATUS_VALID || s == CLAIM_STATUS_EXPIRED || s == CLAIM_STATUS_REJECTED
}

// Short is the lowercase status name used in messages and the report response.
func (s ClaimStatus) Short() string {
	switch s {
	case CLAIM_STATUS_PENDING:
		return "pending"
	case CLAIM_STATUS_ASSIGNED:
		return "assigned"
	case CLAIM_STATUS_VALID:
		return "valid"
	case CLAIM_STATUS_DISPUTED:
		return "disputed"
	case CLAIM_STATUS_EXPIRED:
		return "expired"
	case CLAIM_STATUS_REJECTED:
		return "rejected"
	case CLAIM_STATUS_REVEALING:
		return "revealing"
	default:
		return fmt.Sprintf("status(%d)", int32(s))
	}
}
