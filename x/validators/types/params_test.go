package types_test

import (
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/validators/types"
)

func TestParamsValidate(t *testing.T) {
	require.NoError(t, types.DefaultParams().Validate())
	require.NoError(t, types.DefaultGenesis().Validate())

	cases := map[string]func(p *types.Params){
		"zero min bond":     func(p *types.Params) { p.MinBond = sdk.NewCoin("ubct", sdkmath.ZeroInt()) },
		"negative min bond": func(p *types.Params) { p.MinBond = sdk.Coin{Denom: "ubct", Amount: sdkmath.NewInt(-1)} },
		"bad denom":         func(p *types.Params) { p.MinBond = sdk.Coin{Denom: "1x", Amount: sdkmath.NewInt(5)} },
		"zero unbonding":    func(p *types.Params) { p.UnbondingBlocks = 0 },
		"zero max missed":   func(p *types.Params) { p.MaxMissedAssignments = 0 },
		"zero jail blocks":  func(p *types.Params) { p.JailBlocks = 0 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := types.DefaultParams()
			mutate(&p)
			require.Error(t, p.Validate())
			require.Error(t, types.NewGenesisState(p).Validate())
		})
	}
}

func TestMsgUpdateParamsValidateBasic(t *testing.T) {
	good := sdk.AccAddress(make([]byte, 20)).String()
	require.NoError(t, types.NewMsgUpdateParams(good, types.DefaultParams()).ValidateBasic())
	require.Error(t, types.NewMsgUpdateParams("not-an-address", types.DefaultParams()).ValidateBasic())
	bad := types.DefaultParams()
	bad.JailBlocks = 0
	require.ErrorIs(t, types.NewMsgUpdateParams(good, bad).ValidateBasic(), types.ErrInvalidParams)
}
