package types

import (
	"errors"
	"fmt"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// NewGenesisState returns a genesis state with the given params.
func NewGenesisState(params Params) *GenesisState {
	return &GenesisState{Params: params, NextClaimId: 1}
}

// DefaultGenesis returns the default genesis state of the module.
func DefaultGenesis() *GenesisState {
	return NewGenesisState(DefaultParams())
}

// Validate checks the genesis state; InitGenesis refuses a state that fails it.
func (gs GenesisState) Validate() error {
	if err := gs.Params.Validate(); err != nil {
		return errorsmod.Wrap(ErrInvalidGenesis, err.Error())
	}
	if gs.NextClaimId == 0 {
		return errorsmod.Wrap(ErrInvalidGenesis, "next_claim_id must be positive (ids start at 1)")
	}
	var prev uint64
	for i, c := range gs.Claims {
		if c.Id <= prev || c.Id >= gs.NextClaimId {
			return errorsmod.Wrapf(ErrInvalidGenesis, "claims[%d]: id %d out of order or >= next_claim_id %d", i, c.Id, gs.NextClaimId)
		}
		prev = c.Id
		if err := c.validate(); errors.Is(err, ErrOpenClaim) {
			return errorsmod.Wrapf(err, "genesis claims[%d]", i)
		} else if err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "claims[%d] (id %d): %s", i, c.Id, err)
		}
	}
	return nil
}

func (c Claim) validate() error {
	if _, err := sdk.AccAddressFromBech32(c.Publisher); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	if _, err := ParseCID("derivation_cid", c.DerivationCid, DerivationCodecs...); err != nil {
		return err
	}
	if c.IsBlind() {
		if err := ValidateCommitment("output_commitment", c.OutputCommitment); err != nil {
			return err
		}
	} else if !c.Status.IsFinal() {
		// A decided open claim (from before claims were blind only) is history; an undecided
		// one could only be played on by open reports, which are refused.
		return errorsmod.Wrapf(ErrOpenClaim, "claim %d is %s and open (no output_commitment)", c.Id, c.Status.Short())
	}
	if c.OutputCid != "" || !c.IsBlind() {
		if _, err := ParseCID("output_cid", c.OutputCid, OutputCodecs...); err != nil {
			return err
		}
	}
	if (c.Status == CLAIM_STATUS_REVEALING) != (c.RevealDeadline != 0) {
		return fmt.Errorf("status %s with reveal deadline %d", c.Status.Short(), c.RevealDeadline)
	}
	if c.Status == CLAIM_STATUS_REVEALING && (!c.IsBlind() || c.Rounds == 0) {
		return fmt.Errorf("revealing, but blind=%v with %d rounds drawn", c.IsBlind(), c.Rounds)
	}
	if err := ValidateSystem(c.System); err != nil {
		return err
	}
	if err := c.Deposit.Validate(); err != nil {
		return fmt.Errorf("deposit: %w", err)
	}
	if c.Status == CLAIM_STATUS_UNSPECIFIED || ClaimStatus_name[int32(c.Status)] == "" {
		return fmt.Errorf("invalid status %d", c.Status)
	}
	open := 0
	for j, a := range c.Assignments {
		if _, err := sdk.AccAddressFromBech32(a.Validator); err != nil {
			return fmt.Errorf("assignments[%d]: validator: %w", j, err)
		}
		if a.Status == ROUND_STATUS_ASSIGNED {
			open++
		}
	}
	if (c.Status == CLAIM_STATUS_ASSIGNED) != (open == 1) || open > 1 {
		return fmt.Errorf("status %s with %d open assignments", c.Status.Short(), open)
	}
	return nil
}
