package keeper

import (
	"context"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/bct/types"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// Hooks credits build times when x/claims finishes a claim. Install with
// claimsKeeper.SetHooks(claimstypes.MultiClaimsHooks{marketKeeper.Hooks(), bctKeeper.Hooks()}).
type Hooks struct{ k Keeper }

var _ claimstypes.ClaimsHooks = Hooks{}

// Hooks returns the x/claims hooks of the bct module.
func (k Keeper) Hooks() Hooks { return Hooks{k: k} }

// AfterClaimDisputed does nothing in x/bct (x/market opens the market).
func (h Hooks) AfterClaimDisputed(context.Context, claimstypes.Claim) error { return nil }

// AfterClaimValidated records the validation: every report that counts as agreeing (equal
// output, or a difference the market judged non-determinism) earns u_a. Timed-out and
// rejected rounds earn nothing.
func (h Hooks) AfterClaimValidated(ctx context.Context, c claimstypes.Claim) error {
	reports, err := ValidReports(c)
	if err != nil {
		return err
	}
	if len(reports) == 0 {
		return nil
	}
	return h.k.RecordValidation(ctx, c.Id, reports)
}

// ValidReports are the build reports of a VALID claim that earn rewardable time.
func ValidReports(c claimstypes.Claim) ([]types.BuildReport, error) {
	var out []types.BuildReport
	for _, a := range c.Assignments {
		if a.Status != claimstypes.ROUND_STATUS_AGREED && a.Status != claimstypes.ROUND_STATUS_NON_DETERMINISM {
			continue
		}
		addr, err := sdk.AccAddressFromBech32(a.Validator)
		if err != nil {
			return nil, errorsmod.Wrapf(types.ErrInvalidAddress, "claim %d validator %q: %s", c.Id, a.Validator, err)
		}
		out = append(out, types.BuildReport{Validator: addr, BuildTimeMs: a.BuildTimeMs})
	}
	return out, nil
}
