package types

import (
	"fmt"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
)

// Defaults of docs/ARCHITECTURE.md §Parameters for localnet; all changeable by gov.
const (
	DefaultUnbondingBlocks      uint64 = 100
	DefaultMaxMissedAssignments uint64 = 3
	DefaultJailBlocks           uint64 = 200
	DefaultWeightByEfficiency          = false
	// DefaultVrfKeyActivationDelay: a registered VRF key is used from 10 blocks later on.
	DefaultVrfKeyActivationDelay uint64 = 10
)

// DefaultMinBond is 1000 BCT.
var DefaultMinBond = sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(1_000_000_000))

// NewParams returns Params.
func NewParams(minBond sdk.Coin, unbondingBlocks, maxMissed, jailBlocks uint64, weightByEfficiency bool, vrfKeyActivationDelay uint64) Params {
	return Params{
		VrfKeyActivationDelay: vrfKeyActivationDelay,
		MinBond:               minBond,
		UnbondingBlocks:       unbondingBlocks,
		MaxMissedAssignments:  maxMissed,
		JailBlocks:            jailBlocks,
		WeightByEfficiency:    weightByEfficiency,
	}
}

// DefaultParams returns the default params.
func DefaultParams() Params {
	return NewParams(DefaultMinBond, DefaultUnbondingBlocks, DefaultMaxMissedAssignments, DefaultJailBlocks, DefaultWeightByEfficiency, DefaultVrfKeyActivationDelay)
}

// Validate checks every field.
func (p Params) Validate() error {
	if err := validatePositiveCoin("min_bond", p.MinBond); err != nil {
		return err
	}
	if p.UnbondingBlocks == 0 {
		return fmt.Errorf("unbonding_blocks must be positive")
	}
	// Zero would jail a validator before it could ever miss a deadline.
	if p.MaxMissedAssignments == 0 {
		return fmt.Errorf("max_missed_assignments must be positive")
	}
	if p.JailBlocks == 0 {
		return fmt.Errorf("jail_blocks must be positive")
	}
	// Zero would let an authority choose its key after seeing the VRF input it is used on.
	if p.VrfKeyActivationDelay == 0 {
		return fmt.Errorf("vrf_key_activation_delay must be positive")
	}
	return nil
}

func validatePositiveCoin(name string, c sdk.Coin) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !c.IsPositive() {
		return fmt.Errorf("%s must be positive, got %s", name, c)
	}
	return nil
}
