package types

import errorsmod "cosmossdk.io/errors"

// Registered errors of the bct module. Codes are part of the API: never renumber them.
var (
	ErrInvalidAuthority = errorsmod.Register(ModuleName, 2, "invalid authority")
	ErrInvalidParams    = errorsmod.Register(ModuleName, 3, "invalid params")
	ErrInvalidGenesis   = errorsmod.Register(ModuleName, 4, "invalid genesis state")
	ErrInvalidReports   = errorsmod.Register(ModuleName, 5, "invalid build time reports")
	ErrInvalidAmount    = errorsmod.Register(ModuleName, 6, "invalid amount")
	ErrInvalidAddress   = errorsmod.Register(ModuleName, 7, "invalid address")
)
