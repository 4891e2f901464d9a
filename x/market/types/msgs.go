package types

import (
	errorsmod "cosmossdk.io/errors"
	"github.com/ipfs/go-cid"

	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"

	appparams "github.com/buildchain/buildchain/app/params"
	"github.com/buildchain/buildchain/x/market/tally"
)

var _ sdk.HasValidateBasic = (*MsgUpdateParams)(nil)

// NewMsgUpdateParams returns a MsgUpdateParams.
func NewMsgUpdateParams(authority string, params Params) *MsgUpdateParams {
	return &MsgUpdateParams{Authority: authority, Params: params}
}

// ValidateBasic checks what can be checked without state: a well-formed authority address
// and valid params. Whether the authority is the right one is checked by the handler.
func (m *MsgUpdateParams) ValidateBasic() error {
	if _, err := sdk.AccAddressFromBech32(m.Authority); err != nil {
		return errorsmod.Wrapf(sdkerrors.ErrInvalidAddress, "invalid authority address %q: %s", m.Authority, err)
	}
	if err := m.Params.Validate(); err != nil {
		return errorsmod.Wrap(ErrInvalidParams, err.Error())
	}
	return nil
}

var (
	_ sdk.HasValidateBasic = (*MsgCommitPrediction)(nil)
	_ sdk.HasValidateBasic = (*MsgRevealPrediction)(nil)
	_ sdk.HasValidateBasic = (*MsgAddEvidence)(nil)
)

// CommitHashLen is the length of a commit hash (sha256).
const CommitHashLen = 32

// MaxNoteLen bounds an evidence note.
const MaxNoteLen = 512

// ValidateBasic checks the predictor address, a 32-byte hash and a positive ubct stake.
func (m *MsgCommitPrediction) ValidateBasic() error {
	if _, err := sdk.AccAddressFromBech32(m.Predictor); err != nil {
		return errorsmod.Wrapf(sdkerrors.ErrInvalidAddress, "invalid predictor address %q: %s", m.Predictor, err)
	}
	if m.MarketId == 0 {
		return errorsmod.Wrap(ErrMarketNotFound, "market id 0")
	}
	if len(m.CommitHash) != CommitHashLen {
		return errorsmod.Wrapf(ErrInvalidCommit, "commit hash is %d bytes, want %d", len(m.CommitHash), CommitHashLen)
	}
	if err := m.Stake.Validate(); err != nil {
		return errorsmod.Wrapf(sdkerrors.ErrInvalidCoins, "stake %s: %s", m.Stake, err)
	}
	if m.Stake.Denom != appparams.BondDenom || !m.Stake.IsPositive() {
		return errorsmod.Wrapf(sdkerrors.ErrInvalidCoins, "stake %s must be a positive amount of %s", m.Stake, appparams.BondDenom)
	}
	return nil
}

// ValidateBasic checks the predictor address, the outcome and the salt length.
func (m *MsgRevealPrediction) ValidateBasic() error {
	if _, err := sdk.AccAddressFromBech32(m.Predictor); err != nil {
		return errorsmod.Wrapf(sdkerrors.ErrInvalidAddress, "invalid predictor address %q: %s", m.Predictor, err)
	}
	if m.MarketId == 0 {
		return errorsmod.Wrap(ErrMarketNotFound, "market id 0")
	}
	if !m.Outcome.Valid() {
		return errorsmod.Wrapf(ErrInvalidOutcome, "%s", m.Outcome)
	}
	if err := tally.ValidateSalt(m.Salt); err != nil {
		return errorsmod.Wrap(ErrInvalidCommit, err.Error())
	}
	return nil
}

// ValidateBasic checks the submitter, that cid is a CID, and the note length.
func (m *MsgAddEvidence) ValidateBasic() error {
	if _, err := sdk.AccAddressFromBech32(m.Submitter); err != nil {
		return errorsmod.Wrapf(sdkerrors.ErrInvalidAddress, "invalid submitter address %q: %s", m.Submitter, err)
	}
	if m.MarketId == 0 {
		return errorsmod.Wrap(ErrMarketNotFound, "market id 0")
	}
	if _, err := cid.Decode(m.Cid); err != nil {
		return errorsmod.Wrapf(ErrInvalidEvidence, "cid %q: %s", m.Cid, err)
	}
	if len(m.Note) > MaxNoteLen {
		return errorsmod.Wrapf(ErrInvalidEvidence, "note is %d bytes, at most %d", len(m.Note), MaxNoteLen)
	}
	return nil
}
