package types

import (
	"context"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/validators/assign"
)

// BankKeeper is what x/claims needs of x/bank: fees, locking, returning and burning deposits, and
// its balance for the invariant.
type BankKeeper interface {
	SendCoinsFromAccountToModule(ctx context.Context, sender sdk.AccAddress, recipientModule string, amt sdk.Coins) error
	SendCoinsFromModuleToAccount(ctx context.Context, senderModule string, recipient sdk.AccAddress, amt sdk.Coins) error
	SendCoinsFromModuleToModule(ctx context.Context, senderModule, recipientModule string, amt sdk.Coins) error
	// BurnCoins burns the deposit of a blind claim whose publisher did not reveal.
	BurnCoins(ctx context.Context, moduleName string, amt sdk.Coins) error
	GetBalance(ctx context.Context, addr sdk.AccAddress, denom string) sdk.Coin
	SpendableCoins(ctx context.Context, addr sdk.AccAddress) sdk.Coins
}

// ValidatorsKeeper is what x/claims needs of x/validators (implemented by its keeper).
type ValidatorsKeeper interface {
	// Candidates are the eligible validators of a system with their weights, in address order.
	Candidates(ctx context.Context, system string) ([]assign.Candidate, error)
	// BlockRandomness is the current block's beacon output.
	BlockRandomness(ctx context.Context) ([]byte, error)
	// RecordReport notes an in-time report.
	RecordReport(ctx context.Context, addr sdk.AccAddress) error
	// HandleMissedDeadline slashes (fraction of bond, burned) and maybe jails.
	HandleMissedDeadline(ctx context.Context, addr sdk.AccAddress, slashFraction sdkmath.LegacyDec) (bool, error)
}

// ClaimsHooks lets other modules follow the game. x/market implements AfterClaimDisputed to
// open a market (both outputs are in the claim: claim.OutputCid and the DISAGREED
// assignment's OutputCid) and later calls Keeper.ResolveDispute; x/bct implements
// AfterClaimValidated to credit the agreeing validators' build times. A hook error aborts the
// transaction (or block step) that caused the transition, so hooks must only fail on bugs.
type ClaimsHooks interface {
	// AfterClaimDisputed is called when a report differs from the claimed output (→ DISPUTED).
	AfterClaimDisputed(ctx context.Context, claim Claim) error
	// AfterClaimValidated is called when a claim becomes VALID.
	AfterClaimValidated(ctx context.Context, claim Claim) error
}

// MultiClaimsHooks calls several hooks in order.
type MultiClaimsHooks []ClaimsHooks

var _ ClaimsHooks = MultiClaimsHooks{}

// AfterClaimDisputed implements ClaimsHooks.
func (m MultiClaimsHooks) AfterClaimDisputed(ctx context.Context, claim Claim) error {
	for _, h := range m {
		if err := h.AfterClaimDisputed(ctx, claim); err != nil {
			return err
		}
	}
	return nil
}

// AfterClaimValidated implements ClaimsHooks.
func (m MultiClaimsHooks) AfterClaimValidated(ctx context.Context, claim Claim) error {
	for _, h := range m {
		if err := h.AfterClaimValidated(ctx, claim); err != nil {
			return err
		}
	}
	return nil
}

// DisputeOutcome is the market's verdict on a DISPUTED claim (x/market maps its own enum).
type DisputeOutcome int

const (
	// OutcomeNonDeterminism: the outputs differ by non-determinism; the report counts as
	// agreeing and the game goes on (p_continue, min/max rounds).
	OutcomeNonDeterminism DisputeOutcome = iota + 1
	// OutcomeMisbehaviourClaim: the publisher (and the validators that agreed) lied; the claim
	// becomes REJECTED and its deposit can be taken with SeizeDeposit.
	OutcomeMisbehaviourClaim
	// OutcomeMisbehaviourReport: the dissenting validator lied; its report is discarded and the
	// round is reassigned to another validator.
	OutcomeMisbehaviourReport
	// OutcomeInconclusive: the market reached no verdict (no quorum, or a tie); the claim is
	// not verified and becomes EXPIRED, its deposit returned to the publisher.
	OutcomeInconclusive
)

// String implements fmt.Stringer.
func (o DisputeOutcome) String() string {
	switch o {
	case OutcomeNonDeterminism:
		return "NON_DETERMINISM"
	case OutcomeMisbehaviourClaim:
		return "MISBEHAVIOUR_CLAIM"
	case OutcomeMisbehaviourReport:
		return "MISBEHAVIOUR_REPORT"
	case OutcomeInconclusive:
		return "INCONCLUSIVE"
	default:
		return "UNKNOWN"
	}
}
