package types

import errorsmod "cosmossdk.io/errors"

// Registered errors of the market module. Codes are part of the API: never renumber them.
var (
	ErrInvalidAuthority = errorsmod.Register(ModuleName, 2, "invalid authority")
	ErrInvalidParams    = errorsmod.Register(ModuleName, 3, "invalid params")
	ErrInvalidGenesis   = errorsmod.Register(ModuleName, 4, "invalid genesis state")
	ErrMarketNotFound   = errorsmod.Register(ModuleName, 5, "market not found")
	ErrMarketClosed     = errorsmod.Register(ModuleName, 6, "market is resolved")
	ErrCommitClosed     = errorsmod.Register(ModuleName, 7, "commit phase is over")
	ErrRevealNotOpen    = errorsmod.Register(ModuleName, 8, "reveal phase has not started")
	ErrRevealClosed     = errorsmod.Register(ModuleName, 9, "reveal phase is over")
	ErrAlreadyCommitted = errorsmod.Register(ModuleName, 10, "already committed a prediction in this market")
	ErrNoCommit         = errorsmod.Register(ModuleName, 11, "no commit to reveal")
	ErrAlreadyRevealed  = errorsmod.Register(ModuleName, 12, "prediction already revealed")
	ErrCommitMismatch   = errorsmod.Register(ModuleName, 13, "reveal does not match the commit")
	ErrStakeTooLow      = errorsmod.Register(ModuleName, 14, "stake below min_stake")
	ErrInsufficientFund = errorsmod.Register(ModuleName, 15, "stake above spendable balance")
	ErrInvalidOutcome   = errorsmod.Register(ModuleName, 16, "invalid outcome")
	ErrInvalidCommit    = errorsmod.Register(ModuleName, 17, "invalid commit")
	ErrInvalidEvidence  = errorsmod.Register(ModuleName, 18, "invalid evidence")
	ErrTooMuchEvidence  = errorsmod.Register(ModuleName, 19, "too much evidence on this market")
	ErrInvalidMarket    = errorsmod.Register(ModuleName, 20, "invalid market request")
)
