package types

import (
	"fmt"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// BuildReport is one validator's self-reported build time for a finished validation, as
// x/claims hands it to RecordValidation.
type BuildReport struct {
	Validator   sdk.AccAddress
	BuildTimeMs uint64
}

// ValidateReports checks a claim's reports: at least one, no empty or repeated validator
// (a validator builds a claim at most once; a repeat would earn u_a twice).
func ValidateReports(reports []BuildReport) error {
	if len(reports) == 0 {
		return fmt.Errorf("no reports")
	}
	seen := make(map[string]struct{}, len(reports))
	for i, r := range reports {
		if len(r.Validator) == 0 {
			return fmt.Errorf("report %d has no validator", i)
		}
		if _, dup := seen[string(r.Validator)]; dup {
			return fmt.Errorf("validator %s reported twice", r.Validator)
		}
		seen[string(r.Validator)] = struct{}{}
	}
	return nil
}
