package types

import (
	"fmt"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
)

// Defaults of docs/ARCHITECTURE.md §Parameters for localnet; all changeable by gov.
const (
	DefaultCommitBlocks uint64 = 20
	DefaultRevealBlocks uint64 = 20
)

var (
	// DefaultQuorum is 100 BCT of revealed stake.
	DefaultQuorum = sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(100_000_000))
	// DefaultMinStake is 1 BCT.
	DefaultMinStake = sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(1_000_000))
	// DefaultMarketFee is 0.02.
	DefaultMarketFee = sdkmath.LegacyNewDecWithPrec(2, 2)
)

// NewParams returns Params.
func NewParams(commitBlocks, revealBlocks uint64, quorum, minStake sdk.Coin, marketFee sdkmath.LegacyDec) Params {
	return Params{
		CommitBlocks: commitBlocks,
		RevealBlocks: revealBlocks,
		Quorum:       quorum,
		MinStake:     minStake,
		MarketFee:    marketFee,
	}
}

// DefaultParams returns the default params.
func DefaultParams() Params {
	return NewParams(DefaultCommitBlocks, DefaultRevealBlocks, DefaultQuorum, DefaultMinStake, DefaultMarketFee)
}

// Validate checks every field.
func (p Params) Validate() error {
	if p.CommitBlocks == 0 {
		return fmt.Errorf("commit_blocks must be positive")
	}
	if p.RevealBlocks == 0 {
		return fmt.Errorf("reveal_blocks must be positive")
	}
	if err := p.Quorum.Validate(); err != nil {
		return fmt.Errorf("quorum: %w", err)
	}
	if err := p.MinStake.Validate(); err != nil {
		return fmt.Errorf("min_stake: %w", err)
	}
	// A zero min_stake would let anyone spam free predictions.
	if !p.MinStake.IsPositive() {
		return fmt.Errorf("min_stake must be positive, got %s", p.MinStake)
	}
	// Stakes, fees and burns go through x/bct in the base denomination.
	if p.MinStake.Denom != appparams.BondDenom {
		return fmt.Errorf("min_stake must be in %s, got %s", appparams.BondDenom, p.MinStake.Denom)
	}
	// Quorum and stakes are compared, so they must be the same denomination.
	if p.Quorum.Denom != p.MinStake.Denom {
		return fmt.Errorf("quorum denom %q differs from min_stake denom %q", p.Quorum.Denom, p.MinStake.Denom)
	}
	if p.MarketFee.IsNil() {
		return fmt.Errorf("market_fee must be set")
	}
	// A fee of 1 would leave nothing for the winners.
	if p.MarketFee.IsNegative() || p.MarketFee.GTE(sdkmath.LegacyOneDec()) {
		return fmt.Errorf("market_fee must be in [0, 1), got %s", p.MarketFee)
	}
	return nil
}
