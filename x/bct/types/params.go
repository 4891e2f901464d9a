package types

import (
	"fmt"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// DevFundName is the module account that receives the development fund share when
// Params.DevFundAddress is empty.
const DevFundName = "bct_dev_fund"

// Defaults of docs/ARCHITECTURE.md §Parameters for localnet; all changeable by gov.
const (
	DefaultPaymentPeriodBlocks uint64 = 100
	// DefaultBlocksPerYear assumes 5 s blocks: 365.25 * 24 * 3600 / 5.
	DefaultBlocksPerYear uint64 = 6_311_520
)

var (
	// DefaultInflationRate is 7 % a year.
	DefaultInflationRate = sdkmath.LegacyNewDecWithPrec(7, 2)
	// DefaultDevFundShare is 5 % of minted tokens.
	DefaultDevFundShare = sdkmath.LegacyNewDecWithPrec(5, 2)
	// DefaultSlashFractionValidator is 10 % of bond.
	DefaultSlashFractionValidator = sdkmath.LegacyNewDecWithPrec(10, 2)
)

// NewParams returns Params.
func NewParams(paymentPeriodBlocks uint64, inflationRate, devFundShare, slashFractionValidator sdkmath.LegacyDec,
	blocksPerYear uint64, devFundAddress string,
) Params {
	return Params{
		PaymentPeriodBlocks:    paymentPeriodBlocks,
		InflationRate:          inflationRate,
		DevFundShare:           devFundShare,
		SlashFractionValidator: slashFractionValidator,
		BlocksPerYear:          blocksPerYear,
		DevFundAddress:         devFundAddress,
	}
}

// DefaultParams returns the default params; the dev fund is the DevFundName module account.
func DefaultParams() Params {
	return NewParams(DefaultPaymentPeriodBlocks, DefaultInflationRate, DefaultDevFundShare,
		DefaultSlashFractionValidator, DefaultBlocksPerYear, "")
}

// Validate checks every field.
func (p Params) Validate() error {
	if p.PaymentPeriodBlocks == 0 {
		return fmt.Errorf("payment_period_blocks must be positive")
	}
	if p.BlocksPerYear == 0 {
		return fmt.Errorf("blocks_per_year must be positive")
	}
	// A period longer than a year is allowed but surely a mistake in blocks_per_year units.
	if p.PaymentPeriodBlocks > p.BlocksPerYear {
		return fmt.Errorf("payment_period_blocks (%d) must not exceed blocks_per_year (%d)", p.PaymentPeriodBlocks, p.BlocksPerYear)
	}
	for _, f := range []struct {
		name string
		d    sdkmath.LegacyDec
	}{
		{"inflation_rate", p.InflationRate},
		{"dev_fund_share", p.DevFundShare},
		{"slash_fraction_validator", p.SlashFractionValidator},
	} {
		if f.d.IsNil() {
			return fmt.Errorf("%s must be set", f.name)
		}
		if f.d.IsNegative() || f.d.GT(sdkmath.LegacyOneDec()) {
			return fmt.Errorf("%s must be in [0, 1], got %s", f.name, f.d)
		}
	}
	if p.DevFundAddress != "" {
		if _, err := sdk.AccAddressFromBech32(p.DevFundAddress); err != nil {
			return fmt.Errorf("dev_fund_address %q: %w", p.DevFundAddress, err)
		}
	}
	return nil
}
