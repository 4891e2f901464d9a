package types

import (
	"fmt"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
)

// Defaults; all changeable by gov. min_rounds, p_continue and max_rounds are the cheapest
// game (fewest expected builds per claim) at which a publisher whose fake would be
// rubber-stamped by a third of the bond loses money for any gain up to 10 deposits per
// accepted fake: README.md §Parameters (x/claims/curve TestDefaultsAreTheCheapestSafeGame checks it).
const (
	DefaultMinRounds           uint32 = 2
	DefaultMaxRounds           uint32 = 3
	DefaultReportTimeoutBlocks uint64 = 50
)

var (
	// DefaultMinDeposit is 10 BCT.
	DefaultMinDeposit = sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(10_000_000))
	// DefaultClaimFee is 0.1 BCT.
	DefaultClaimFee = sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(100_000))
	// DefaultPContinue is 0.3.
	DefaultPContinue = sdkmath.LegacyNewDecWithPrec(3, 1)
	// DefaultSlashFractionTimeout is 0.01.
	DefaultSlashFractionTimeout = sdkmath.LegacyNewDecWithPrec(1, 2)
)

// NewParams returns Params.
func NewParams(minDeposit, claimFee sdk.Coin, pContinue sdkmath.LegacyDec, minRounds, maxRounds uint32,
	reportTimeoutBlocks uint64, slashFractionTimeout sdkmath.LegacyDec,
) Params {
	return Params{
		MinDeposit:           minDeposit,
		ClaimFee:             claimFee,
		PContinue:            pContinue,
		MinRounds:            minRounds,
		MaxRounds:            maxRounds,
		ReportTimeoutBlocks:  reportTimeoutBlocks,
		SlashFractionTimeout: slashFractionTimeout,
	}
}

// DefaultParams returns the default params.
func DefaultParams() Params {
	return NewParams(DefaultMinDeposit, DefaultClaimFee, DefaultPContinue, DefaultMinRounds, DefaultMaxRounds,
		DefaultReportTimeoutBlocks, DefaultSlashFractionTimeout)
}

// Validate checks every field.
func (p Params) Validate() error {
	if err := p.MinDeposit.Validate(); err != nil {
		return fmt.Errorf("min_deposit: %w", err)
	}
	if !p.MinDeposit.IsPositive() {
		return fmt.Errorf("min_deposit must be positive, got %s", p.MinDeposit)
	}
	// A zero fee is allowed (free claims on a test network); a malformed one is not.
	if err := p.ClaimFee.Validate(); err != nil {
		return fmt.Errorf("claim_fee: %w", err)
	}
	// p_continue = 1 would never end a claim before max_rounds; that is allowed since
	// max_rounds bounds it. Outside [0, 1] it is not a probability.
	if err := validateFraction("p_continue", p.PContinue); err != nil {
		return err
	}
	if p.MinRounds == 0 {
		return fmt.Errorf("min_rounds must be at least 1")
	}
	if p.MaxRounds < p.MinRounds {
		return fmt.Errorf("max_rounds (%d) must be >= min_rounds (%d)", p.MaxRounds, p.MinRounds)
	}
	if p.ReportTimeoutBlocks == 0 {
		return fmt.Errorf("report_timeout_blocks must be positive")
	}
	return validateFraction("slash_fraction_timeout", p.SlashFractionTimeout)
}

func validateFraction(name string, d sdkmath.LegacyDec) error {
	if d.IsNil() {
		return fmt.Errorf("%s must be set", name)
	}
	if d.IsNegative() || d.GT(sdkmath.LegacyOneDec()) {
		return fmt.Errorf("%s must be in [0, 1], got %s", name, d)
	}
	return nil
}
