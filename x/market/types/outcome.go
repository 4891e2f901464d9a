package types

import (
	"fmt"
	"strings"

	"github.com/buildchain/buildchain/x/market/tally"
)

// The proto enum values are the tally package's; this keeps them in step at compile time.
var _ = [1]struct{}{}[int(OUTCOME_NON_DETERMINISM)-int(tally.NonDeterminism)]
var _ = [1]struct{}{}[int(OUTCOME_MISBEHAVIOUR_CLAIM)-int(tally.MisbehaviourClaim)]
var _ = [1]struct{}{}[int(OUTCOME_MISBEHAVIOUR_REPORT)-int(tally.MisbehaviourReport)]

// Valid reports whether o names one of the three outcomes.
func (o Outcome) Valid() bool { return tally.Outcome(o).Valid() }

// ParseOutcome accepts the enum names with or without the OUTCOME_ prefix, in any case,
// and the short forms nd, claim, report (for the CLI).
func ParseOutcome(s string) (Outcome, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	switch u {
	case "ND":
		return OUTCOME_NON_DETERMINISM, nil
	case "CLAIM":
		return OUTCOME_MISBEHAVIOUR_CLAIM, nil
	case "REPORT":
		return OUTCOME_MISBEHAVIOUR_REPORT, nil
	}
	if !strings.HasPrefix(u, "OUTCOME_") {
		u = "OUTCOME_" + u
	}
	v, ok := Outcome_value[u]
	if !ok || !Outcome(v).Valid() {
		return 0, fmt.Errorf("unknown outcome %q: want NON_DETERMINISM, MISBEHAVIOUR_CLAIM or MISBEHAVIOUR_REPORT", s)
	}
	return Outcome(v), nil
}
