package types

import errorsmod "cosmossdk.io/errors"

// Registered errors of the claims module. Codes are part of the API: never renumber them.
var (
	ErrInvalidAuthority  = errorsmod.Register(ModuleName, 2, "invalid authority")
	ErrInvalidParams     = errorsmod.Register(ModuleName, 3, "invalid params")
	ErrInvalidGenesis    = errorsmod.Register(ModuleName, 4, "invalid genesis state")
	ErrInvalidCID        = errorsmod.Register(ModuleName, 5, "invalid CID")
	ErrInvalidSystem     = errorsmod.Register(ModuleName, 6, "invalid system")
	ErrInsufficientDepos = errorsmod.Register(ModuleName, 7, "deposit below minimum")
	ErrWrongDenom        = errorsmod.Register(ModuleName, 8, "wrong denomination")
	ErrClaimNotFound     = errorsmod.Register(ModuleName, 9, "claim not found")
	ErrWrongStatus       = errorsmod.Register(ModuleName, 10, "claim is in the wrong status")
	ErrWrongRound        = errorsmod.Register(ModuleName, 11, "wrong round")
	ErrNotAssigned       = errorsmod.Register(ModuleName, 12, "validator is not assigned to this round")
	ErrAlreadyReported   = errorsmod.Register(ModuleName, 13, "already reported")
	ErrDeadlinePassed    = errorsmod.Register(ModuleName, 14, "report deadline passed")
	ErrInvalidAmount     = errorsmod.Register(ModuleName, 15, "invalid amount")
	ErrNotVerified       = errorsmod.Register(ModuleName, 16, "derivation has no verified output")
	ErrInvalidOutcome    = errorsmod.Register(ModuleName, 17, "invalid dispute outcome")
	ErrDepositNotLocked  = errorsmod.Register(ModuleName, 18, "deposit is not locked")
)

// Errors of blind rounds (README.md §Blind rounds).
var (
	ErrInvalidSalt       = errorsmod.Register(ModuleName, 19, "invalid salt")
	ErrInvalidCommitment = errorsmod.Register(ModuleName, 20, "invalid commitment")
	ErrRevealMismatch    = errorsmod.Register(ModuleName, 21, "reveal does not match the commitment")
	ErrRevealTooEarly    = errorsmod.Register(ModuleName, 22, "reveal before the reveal phase")
	// ErrOpenClaim refuses what would make a claimed or built output public before every round
	// is committed: a claim carrying output_cid, a MsgReportBuild, an in-flight open claim in
	// genesis. Claims are blind only (README.md §Blind rounds).
	ErrOpenClaim = errorsmod.Register(ModuleName, 23, "open claims and open reports are refused: commit the output (blind rounds)")
)
