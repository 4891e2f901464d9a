package types_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/crypto/vrf"
	"github.com/buildchain/buildchain/x/validators/types"
)

func TestNormalizeSystems(t *testing.T) {
	got, err := types.NormalizeSystems([]string{"x86_64-linux", "aarch64-darwin", "x86_64-linux"})
	require.NoError(t, err)
	require.Equal(t, []string{"aarch64-darwin", "x86_64-linux"}, got)
	for _, bad := range [][]string{nil, {"linux"}, {"X86-Linux"}, {"a-b-c"}, make([]string, types.MaxSystems+1)} {
		_, err := types.NormalizeSystems(bad)
		require.ErrorIs(t, err, types.ErrInvalidSystem, "%v", bad)
	}
}

func TestValidatorMsgsValidateBasic(t *testing.T) {
	addr := sdk.AccAddress(make([]byte, 20)).String()
	bond := sdk.NewInt64Coin("ubct", 5)
	require.NoError(t, (&types.MsgRegisterValidator{Operator: addr, Systems: []string{"x86_64-linux"}, Bond: bond}).ValidateBasic())
	require.Error(t, (&types.MsgRegisterValidator{Operator: "bad", Systems: []string{"x86_64-linux"}, Bond: bond}).ValidateBasic())
	require.Error(t, (&types.MsgRegisterValidator{Operator: addr, Bond: bond}).ValidateBasic())
	require.NoError(t, (&types.MsgUpdateValidator{Operator: addr, AddBond: bond}).ValidateBasic())
	require.NoError(t, (&types.MsgUpdateValidator{Operator: addr, Systems: []string{"aarch64-linux"}}).ValidateBasic())
	require.Error(t, (&types.MsgUpdateValidator{Operator: addr}).ValidateBasic(), "nothing to update")
	require.Error(t, (&types.MsgUnbondValidator{Operator: ""}).ValidateBasic())
	require.Error(t, (&types.MsgUnjail{Operator: "x"}).ValidateBasic())
	k, _ := vrf.GenerateKey(nil)
	require.NoError(t, (&types.MsgRegisterVrfKey{Operator: addr, PublicKey: k.Public()}).ValidateBasic())
	require.ErrorIs(t, (&types.MsgRegisterVrfKey{Operator: addr, PublicKey: k.Public()[:31]}).ValidateBasic(), types.ErrInvalidVrfKey)
}
