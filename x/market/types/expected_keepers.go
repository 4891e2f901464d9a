package types

import (
	"context"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/bct/economics"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// BankKeeper is what x/market needs of x/bank: stakes move into and out of its module account.
type BankKeeper interface {
	SendCoinsFromAccountToModule(ctx context.Context, senderAddr sdk.AccAddress, recipientModule string, amt sdk.Coins) error
	SendCoinsFromModuleToAccount(ctx context.Context, senderModule string, recipientAddr sdk.AccAddress, amt sdk.Coins) error
	SpendableCoins(ctx context.Context, addr sdk.AccAddress) sdk.Coins
	GetBalance(ctx context.Context, addr sdk.AccAddress, denom string) sdk.Coin
}

// AccountKeeper is what x/market needs of x/auth (GetAccount: for its simulation's txs).
type AccountKeeper interface {
	GetModuleAddress(moduleName string) sdk.AccAddress
	GetAccount(ctx context.Context, addr sdk.AccAddress) sdk.AccountI
}

// BctKeeper is what x/market needs of x/bct: fees, burns and slashes go through it so the
// supply accounting sees them, and the honest dissenter of a rejected claim is credited its
// build time.
type BctKeeper interface {
	RecordValidation(ctx context.Context, claimID uint64, reports []bcttypes.BuildReport) error
	PayDevFund(ctx context.Context, fromModule string, amt sdkmath.Int) error
	Burn(ctx context.Context, fromModule string, amt sdkmath.Int) error
	SlashFractionValidator(ctx context.Context) (sdkmath.LegacyDec, error)
	NoteSlash(ctx context.Context, offender sdk.AccAddress, kind string, claimID uint64, amount sdkmath.Int) error
	DistributeSlash(ctx context.Context, claimID uint64, fromModule string, total sdkmath.Int, exposers []sdk.AccAddress) (economics.SlashSplit, error)
}

// ClaimsKeeper is what x/market needs of x/claims (its keeper, as x/claims defines it).
type ClaimsKeeper interface {
	GetClaim(ctx context.Context, id uint64) (claimstypes.Claim, error)
	// ResolveDispute hands the verdict back to the claim's game.
	ResolveDispute(ctx context.Context, claimID uint64, outcome claimstypes.DisputeOutcome) error
	// SeizeDeposit moves the locked deposit of a REJECTED claim to recipientModule.
	SeizeDeposit(ctx context.Context, claimID uint64, recipientModule string) (sdk.Coin, error)
}

// ValidatorsKeeper is what x/market needs of x/validators.
type ValidatorsKeeper interface {
	// SlashBond takes fraction of the validator's bond out of the validators module account
	// into recipientModule, lowers its recorded bond, and returns the amount.
	SlashBond(ctx context.Context, operator sdk.AccAddress, fraction sdkmath.LegacyDec, recipientModule, reason string) (sdk.Coin, error)
}

// OpenMarketRequest is what x/claims passes when a report differs from the claimed output.
type OpenMarketRequest struct {
	ClaimID        uint64
	Round          uint32
	DerivationCID  string
	ClaimedOutput  string
	ReportedOutput string
	Publisher      sdk.AccAddress
	// Dissenter is the validator whose report differs.
	Dissenter sdk.AccAddress
	// Agreeing are the validators whose earlier reports matched the claimed output.
	Agreeing []sdk.AccAddress
}

// Validate checks the request.
func (r OpenMarketRequest) Validate() error {
	switch {
	case r.ClaimID == 0:
		return ErrInvalidMarket.Wrap("claim id is 0")
	case r.ClaimedOutput == "" || r.ReportedOutput == "":
		return ErrInvalidMarket.Wrap("both outputs are required")
	case r.ClaimedOutput == r.ReportedOutput:
		return ErrInvalidMarket.Wrap("the outputs are equal: nothing to dispute")
	case len(r.Publisher) == 0 || len(r.Dissenter) == 0:
		return ErrInvalidMarket.Wrap("publisher and dissenter are required")
	}
	seen := map[string]bool{string(r.Dissenter): true}
	for _, a := range r.Agreeing {
		if len(a) == 0 || seen[string(a)] {
			return ErrInvalidMarket.Wrapf("agreeing validator %s empty or repeated", a)
		}
		seen[string(a)] = true
	}
	return nil
}
