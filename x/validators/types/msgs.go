package types

import (
	"fmt"
	"regexp"
	"sort"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"

	"github.com/buildchain/buildchain/crypto/vrf"
)

var (
	_ sdk.HasValidateBasic = (*MsgUpdateParams)(nil)
	_ sdk.HasValidateBasic = (*MsgRegisterValidator)(nil)
	_ sdk.HasValidateBasic = (*MsgUpdateValidator)(nil)
	_ sdk.HasValidateBasic = (*MsgUnbondValidator)(nil)
	_ sdk.HasValidateBasic = (*MsgUnjail)(nil)
	_ sdk.HasValidateBasic = (*MsgRegisterVrfKey)(nil)
)

// MaxSystems bounds the systems list of one validator (state size per validator).
const MaxSystems = 16

// systemRe matches Nix-style system strings: "x86_64-linux", "aarch64-darwin".
var systemRe = regexp.MustCompile(`^[a-z0-9_]{1,32}-[a-z0-9_]{1,32}$`)

// ValidateSystem checks one system string.
func ValidateSystem(s string) error {
	if !systemRe.MatchString(s) {
		return errorsmod.Wrapf(ErrInvalidSystem, "%q is not of the form arch-os (e.g. x86_64-linux)", s)
	}
	return nil
}

// NormalizeSystems validates, sorts and de-duplicates a systems list.
func NormalizeSystems(systems []string) ([]string, error) {
	if len(systems) == 0 {
		return nil, errorsmod.Wrap(ErrInvalidSystem, "at least one system is required")
	}
	if len(systems) > MaxSystems {
		return nil, errorsmod.Wrapf(ErrInvalidSystem, "at most %d systems, got %d", MaxSystems, len(systems))
	}
	out := make([]string, 0, len(systems))
	seen := map[string]bool{}
	for _, s := range systems {
		if err := ValidateSystem(s); err != nil {
			return nil, err
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out, nil
}

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

// ValidateBasic checks the operator, systems and that the bond is a valid positive coin
// (the minimum and denom are checked against params by the handler).
func (m *MsgRegisterValidator) ValidateBasic() error {
	if err := validateAddr("operator", m.Operator); err != nil {
		return err
	}
	if _, err := NormalizeSystems(m.Systems); err != nil {
		return err
	}
	if err := m.Bond.Validate(); err != nil {
		return errorsmod.Wrapf(ErrInvalidAmount, "bond: %s", err)
	}
	if !m.Bond.IsPositive() {
		return errorsmod.Wrapf(ErrInvalidAmount, "bond must be positive, got %s", m.Bond)
	}
	return nil
}

// ValidateBasic checks the operator and that there is something to update.
func (m *MsgUpdateValidator) ValidateBasic() error {
	if err := validateAddr("operator", m.Operator); err != nil {
		return err
	}
	if len(m.Systems) > 0 {
		if _, err := NormalizeSystems(m.Systems); err != nil {
			return err
		}
	}
	hasBond := m.AddBond.Denom != "" || !m.AddBond.Amount.IsNil() && !m.AddBond.Amount.IsZero()
	if hasBond {
		if err := m.AddBond.Validate(); err != nil {
			return errorsmod.Wrapf(ErrInvalidAmount, "add_bond: %s", err)
		}
	}
	if len(m.Systems) == 0 && (!hasBond || m.AddBond.IsZero()) {
		return errorsmod.Wrap(sdkerrors.ErrInvalidRequest, "nothing to update: give systems and/or a positive add_bond")
	}
	return nil
}

// AddsBond reports whether the update adds bond.
func (m *MsgUpdateValidator) AddsBond() bool {
	return !m.AddBond.Amount.IsNil() && m.AddBond.Amount.IsPositive()
}

// ValidateBasic checks the operator address.
func (m *MsgUnbondValidator) ValidateBasic() error { return validateAddr("operator", m.Operator) }

// ValidateBasic checks the operator address.
func (m *MsgUnjail) ValidateBasic() error { return validateAddr("operator", m.Operator) }

// ValidateBasic checks the operator address and that the key is a valid, non-weak point.
func (m *MsgRegisterVrfKey) ValidateBasic() error {
	if err := validateAddr("operator", m.Operator); err != nil {
		return err
	}
	if err := vrf.ValidatePublicKey(m.PublicKey); err != nil {
		return errorsmod.Wrap(ErrInvalidVrfKey, err.Error())
	}
	return nil
}

// KeyAt returns the VRF public key in force at height, or nil when none is.
func (k VrfKey) KeyAt(height int64) []byte {
	if len(k.NextPublicKey) > 0 && height >= k.NextActivationHeight {
		return k.NextPublicKey
	}
	if len(k.PublicKey) > 0 {
		return k.PublicKey
	}
	return nil
}

// Promote moves a next key whose activation height has passed into public_key.
func (k *VrfKey) Promote(height int64) {
	if len(k.NextPublicKey) > 0 && height >= k.NextActivationHeight {
		k.PublicKey = k.NextPublicKey
		k.NextPublicKey = nil
		k.NextActivationHeight = 0
	}
}

// IsEligible reports whether the validator may be assigned builds.
func (v Validator) IsEligible() bool { return v.Status == VALIDATOR_STATUS_ACTIVE }

// SupportsSystem reports whether v builds for system.
func (v Validator) SupportsSystem(system string) bool {
	i := sort.SearchStrings(v.Systems, system)
	return i < len(v.Systems) && v.Systems[i] == system
}

// StatusName is a short lowercase name for CLI output and errors.
func (s ValidatorStatus) StatusName() string {
	switch s {
	case VALIDATOR_STATUS_ACTIVE:
		return "active"
	case VALIDATOR_STATUS_JAILED:
		return "jailed"
	case VALIDATOR_STATUS_UNBONDING:
		return "unbonding"
	default:
		return fmt.Sprintf("status(%d)", int32(s))
	}
}
