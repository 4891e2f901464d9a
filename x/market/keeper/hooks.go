package keeper

import (
	"context"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/market/types"
)

// Hooks opens a market when x/claims reports a dispute. Install with
// claimsKeeper.SetHooks(claimstypes.MultiClaimsHooks{marketKeeper.Hooks(), bctKeeper.Hooks()}).
type Hooks struct{ k Keeper }

var _ claimstypes.ClaimsHooks = Hooks{}

// Hooks returns the x/claims hooks of the market module.
func (k Keeper) Hooks() Hooks { return Hooks{k: k} }

// OpenRequestFromClaim builds the market request of a DISPUTED claim: the claimed output
// against the DISAGREED report; the validators whose reports equal the claimed output are
// the ones MISBEHAVIOUR_CLAIM names (reports already judged non-determinism are not).
func OpenRequestFromClaim(c claimstypes.Claim) (types.OpenMarketRequest, error) {
	i := c.DisputedAssignment()
	if i < 0 {
		return types.OpenMarketRequest{}, errorsmod.Wrapf(types.ErrInvalidMarket, "claim %d has no disputing report", c.Id)
	}
	d := c.Assignments[i]
	req := types.OpenMarketRequest{
		ClaimID: c.Id, Round: d.Round, DerivationCID: c.DerivationCid,
		ClaimedOutput: c.OutputCid, ReportedOutput: d.OutputCid,
	}
	var err error
	if req.Publisher, err = sdk.AccAddressFromBech32(c.Publisher); err != nil {
		return req, errorsmod.Wrapf(types.ErrInvalidMarket, "publisher %q: %s", c.Publisher, err)
	}
	if req.Dissenter, err = sdk.AccAddressFromBech32(d.Validator); err != nil {
		return req, errorsmod.Wrapf(types.ErrInvalidMarket, "validator %q: %s", d.Validator, err)
	}
	for _, a := range c.Assignments {
		if a.Status != claimstypes.ROUND_STATUS_AGREED {
			continue
		}
		addr, err := sdk.AccAddressFromBech32(a.Validator)
		if err != nil {
			return req, errorsmod.Wrapf(types.ErrInvalidMarket, "validator %q: %s", a.Validator, err)
		}
		req.Agreeing = append(req.Agreeing, addr)
	}
	return req, nil
}

// AfterClaimDisputed opens a market on the mismatch.
func (h Hooks) AfterClaimDisputed(ctx context.Context, c claimstypes.Claim) error {
	req, err := OpenRequestFromClaim(c)
	if err != nil {
		return err
	}
	_, err = h.k.OpenMarket(ctx, req)
	return err
}

// AfterClaimValidated does nothing in x/market (x/bct credits the build times).
func (h Hooks) AfterClaimValidated(context.Context, claimstypes.Claim) error { return nil }
