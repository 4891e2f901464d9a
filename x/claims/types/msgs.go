package types

import (
	"fmt"
	"regexp"

	errorsmod "cosmossdk.io/errors"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"
)

var (
	_ sdk.HasValidateBasic = (*MsgUpdateParams)(nil)
	_ sdk.HasValidateBasic = (*MsgSubmitClaim)(nil)
	_ sdk.HasValidateBasic = (*MsgReportBuild)(nil)
	_ sdk.HasValidateBasic = (*MsgCommitBuild)(nil)
	_ sdk.HasValidateBasic = (*MsgRevealBuild)(nil)
	_ sdk.HasValidateBasic = (*MsgRevealClaim)(nil)
)

// MaxCIDLength bounds CID strings kept in state (a sha2-256 CIDv1 in base32 is 59 chars).
const MaxCIDLength = 128

// systemRe matches Nix-style system strings ("x86_64-linux"); same rule as x/validators.
var systemRe = regexp.MustCompile(`^[a-z0-9_]{1,32}-[a-z0-9_]{1,32}$`)

// ValidateSystem checks a system string.
func ValidateSystem(s string) error {
	if !systemRe.MatchString(s) {
		return errorsmod.Wrapf(ErrInvalidSystem, "%q is not of the form arch-os (e.g. x86_64-linux)", s)
	}
	return nil
}

// ParseCID checks that s is a canonical CIDv1 with a sha2-256 multihash (docs/ARCHITECTURE.md §Store) and one of
// the allowed codecs. Canonical means s is exactly the CID's own string form (base32), so
// one CID has one string and indexes never split.
func ParseCID(field, s string, codecs ...uint64) (cid.Cid, error) {
	if s == "" {
		return cid.Undef, errorsmod.Wrapf(ErrInvalidCID, "%s is empty", field)
	}
	if len(s) > MaxCIDLength {
		return cid.Undef, errorsmod.Wrapf(ErrInvalidCID, "%s is %d characters, at most %d", field, len(s), MaxCIDLength)
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, errorsmod.Wrapf(ErrInvalidCID, "%s %q: %s", field, s, err)
	}
	if c.Version() != 1 {
		return cid.Undef, errorsmod.Wrapf(ErrInvalidCID, "%s %q is CIDv%d, want CIDv1", field, s, c.Version())
	}
	if c.Prefix().MhType != mh.SHA2_256 {
		return cid.Undef, errorsmod.Wrapf(ErrInvalidCID, "%s %q does not use a sha2-256 multihash", field, s)
	}
	if len(codecs) > 0 {
		ok := false
		for _, cc := range codecs {
			ok = ok || c.Type() == cc
		}
		if !ok {
			return cid.Undef, errorsmod.Wrapf(ErrInvalidCID, "%s %q has codec 0x%x, want one of %s", field, s, c.Type(), codecNames(codecs))
		}
	}
	if c.String() != s {
		return cid.Undef, errorsmod.Wrapf(ErrInvalidCID, "%s %q is not in canonical form; use %s", field, s, c.String())
	}
	return c, nil
}

func codecNames(codecs []uint64) string {
	out := ""
	for i, c := range codecs {
		if i > 0 {
			out += ", "
		}
		switch c {
		case cid.DagJSON:
			out += "dag-json"
		case cid.DagProtobuf:
			out += "dag-pb"
		case cid.Raw:
			out += "raw"
		default:
			out += fmt.Sprintf("0x%x", c)
		}
	}
	return out
}

// DerivationCodecs are the codecs a derivation CID may have (docs/ARCHITECTURE.md §Derivations and builds: dag-json).
var DerivationCodecs = []uint64{cid.DagJSON}

// OutputCodecs are the codecs an output CID may have (UnixFS: dag-pb, or raw for small files).
var OutputCodecs = []uint64{cid.DagProtobuf, cid.Raw}

func validateAddr(field, addr string) error {
	if _, err := sdk.AccAddressFromBech32(addr); err != nil {
		return errorsmod.Wrapf(sdkerrors.ErrInvalidAddress, "invalid %s address %q: %s", field, addr, err)
	}
	return nil
}

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

// ValidateBasic checks the publisher, the derivation CID, the output commitment (claims are
// blind only: a claim naming output_cid is refused with ErrOpenClaim, README.md §Blind
// rounds), the system and that the deposit is a valid positive coin (its minimum and denom
// are checked against params by the handler).
func (m *MsgSubmitClaim) ValidateBasic() error {
	if err := validateAddr("publisher", m.Publisher); err != nil {
		return err
	}
	if _, err := ParseCID("derivation_cid", m.DerivationCid, DerivationCodecs...); err != nil {
		return err
	}
	if m.OutputCid != "" {
		return errorsmod.Wrap(ErrOpenClaim, "a claim carries output_commitment (ClaimCommitment of output and salt), never output_cid; reveal the output with MsgRevealClaim after the last commit")
	}
	if err := ValidateCommitment("output_commitment", m.OutputCommitment); err != nil {
		return err
	}
	if err := ValidateSystem(m.System); err != nil {
		return err
	}
	if err := m.Deposit.Validate(); err != nil {
		return errorsmod.Wrapf(ErrInvalidAmount, "deposit: %s", err)
	}
	if !m.Deposit.IsPositive() {
		return errorsmod.Wrapf(ErrInvalidAmount, "deposit must be positive, got %s", m.Deposit)
	}
	return nil
}

// ValidateBasic refuses every MsgReportBuild with ErrOpenClaim: a result is committed
// (MsgCommitBuild) and revealed after the last commit (MsgRevealBuild). The message stays in
// the Msg service so that an old client gets this error rather than an unknown type.
func (m *MsgReportBuild) ValidateBasic() error {
	return errorsmod.Wrap(ErrOpenClaim, "open reports are refused: commit with MsgCommitBuild, reveal with MsgRevealBuild")
}

func validateRound(claimID uint64, round uint32) error {
	if claimID == 0 {
		return errorsmod.Wrap(ErrClaimNotFound, "claim_id must be positive")
	}
	if round == 0 {
		return errorsmod.Wrap(ErrWrongRound, "round must be positive (rounds start at 1)")
	}
	return nil
}

// ValidateBasic checks the validator address, the claim id and round, and the commitment's length.
func (m *MsgCommitBuild) ValidateBasic() error {
	if err := validateAddr("validator", m.Validator); err != nil {
		return err
	}
	if err := validateRound(m.ClaimId, m.Round); err != nil {
		return err
	}
	return ValidateCommitment("commitment", m.Commitment)
}

// ValidateBasic checks the validator address, the claim id and round, the output CID and the salt.
func (m *MsgRevealBuild) ValidateBasic() error {
	if err := validateAddr("validator", m.Validator); err != nil {
		return err
	}
	if err := validateRound(m.ClaimId, m.Round); err != nil {
		return err
	}
	if _, err := ParseCID("output_cid", m.OutputCid, OutputCodecs...); err != nil {
		return err
	}
	return ValidateSalt(m.Salt)
}

// ValidateBasic checks the publisher address, the claim id, the output CID and the salt.
func (m *MsgRevealClaim) ValidateBasic() error {
	if err := validateAddr("publisher", m.Publisher); err != nil {
		return err
	}
	if m.ClaimId == 0 {
		return errorsmod.Wrap(ErrClaimNotFound, "claim_id must be positive")
	}
	if _, err := ParseCID("output_cid", m.OutputCid, OutputCodecs...); err != nil {
		return err
	}
	return ValidateSalt(m.Salt)
}
