package types

import errorsmod "cosmossdk.io/errors"

// Registered errors of the validators module. Codes are part of the API: never renumber them.
var (
	ErrInvalidAuthority    = errorsmod.Register(ModuleName, 2, "invalid authority")
	ErrInvalidParams       = errorsmod.Register(ModuleName, 3, "invalid params")
	ErrInvalidGenesis      = errorsmod.Register(ModuleName, 4, "invalid genesis state")
	ErrValidatorExists     = errorsmod.Register(ModuleName, 5, "validator already registered")
	ErrValidatorNotFound   = errorsmod.Register(ModuleName, 6, "validator not found")
	ErrInsufficientBond    = errorsmod.Register(ModuleName, 7, "bond below minimum")
	ErrInvalidSystem       = errorsmod.Register(ModuleName, 8, "invalid system")
	ErrWrongStatus         = errorsmod.Register(ModuleName, 9, "validator is in the wrong status")
	ErrStillJailed         = errorsmod.Register(ModuleName, 10, "validator is still jailed")
	ErrWrongDenom          = errorsmod.Register(ModuleName, 11, "wrong denomination")
	ErrNotAuthority        = errorsmod.Register(ModuleName, 12, "not a consensus authority")
	ErrInvalidVrfKey       = errorsmod.Register(ModuleName, 13, "invalid VRF key")
	ErrInvalidBeacon       = errorsmod.Register(ModuleName, 14, "invalid VRF beacon")
	ErrRandomnessNotFound  = errorsmod.Register(ModuleName, 15, "no randomness at height")
	ErrNoEligibleValidator = errorsmod.Register(ModuleName, 16, "no eligible validator")
	ErrInvalidAmount       = errorsmod.Register(ModuleName, 17, "invalid amount")
	ErrBeaconNotSendable   = errorsmod.Register(ModuleName, 18, "a VRF beacon is put in a block by its proposer; it cannot be sent or simulated")
)
