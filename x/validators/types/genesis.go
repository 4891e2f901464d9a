package types

import (
	"fmt"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/crypto/vrf"
)

// NewGenesisState returns a genesis state with the given params.
func NewGenesisState(params Params) *GenesisState {
	return &GenesisState{Params: params}
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
	seen := map[string]bool{}
	for i, v := range gs.Validators {
		if err := v.validate(gs.Params); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "validators[%d]: %s", i, err)
		}
		if seen[v.Operator] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "validators[%d]: duplicate operator %s", i, v.Operator)
		}
		seen[v.Operator] = true
	}
	seenKeys := map[string]bool{}
	for i, k := range gs.VrfKeys {
		if _, err := sdk.ConsAddressFromBech32(k.ConsensusAddress); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "vrf_keys[%d]: consensus address: %s", i, err)
		}
		if seenKeys[k.ConsensusAddress] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "vrf_keys[%d]: duplicate %s", i, k.ConsensusAddress)
		}
		seenKeys[k.ConsensusAddress] = true
		if len(k.PublicKey) == 0 && len(k.NextPublicKey) == 0 {
			return errorsmod.Wrapf(ErrInvalidGenesis, "vrf_keys[%d]: no key", i)
		}
		for _, pk := range [][]byte{k.PublicKey, k.NextPublicKey} {
			if len(pk) == 0 {
				continue
			}
			if err := vrf.ValidatePublicKey(pk); err != nil {
				return errorsmod.Wrapf(ErrInvalidGenesis, "vrf_keys[%d]: %s", i, err)
			}
		}
	}
	if n := len(gs.LastRandomness); n != 0 && n != vrf.OutputSize {
		return errorsmod.Wrapf(ErrInvalidGenesis, "last_randomness must be empty or %d bytes, got %d", vrf.OutputSize, n)
	}
	if gs.LastRandomnessHeight < 0 {
		return errorsmod.Wrap(ErrInvalidGenesis, "last_randomness_height is negative")
	}
	return nil
}

func (v Validator) validate(p Params) error {
	if _, err := sdk.AccAddressFromBech32(v.Operator); err != nil {
		return fmt.Errorf("operator: %w", err)
	}
	norm, err := NormalizeSystems(v.Systems)
	if err != nil {
		return err
	}
	if len(norm) != len(v.Systems) {
		return fmt.Errorf("systems must be sorted and unique")
	}
	for i := range norm {
		if norm[i] != v.Systems[i] {
			return fmt.Errorf("systems must be sorted and unique")
		}
	}
	if err := v.Bond.Validate(); err != nil {
		return fmt.Errorf("bond: %w", err)
	}
	if v.Bond.Denom != p.MinBond.Denom {
		return fmt.Errorf("bond denom %q, want %q", v.Bond.Denom, p.MinBond.Denom)
	}
	switch v.Status {
	case VALIDATOR_STATUS_ACTIVE, VALIDATOR_STATUS_JAILED, VALIDATOR_STATUS_UNBONDING:
	default:
		return fmt.Errorf("invalid status %v", v.Status)
	}
	if v.Efficiency.IsNil() || v.Efficiency.IsNegative() {
		return fmt.Errorf("efficiency must be >= 0")
	}
	return nil
}
