package types

import errorsmod "cosmossdk.io/errors"

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
	return nil
}
