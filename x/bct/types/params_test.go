package types_test

import (
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/bct/types"
)

func TestParamsValidate(t *testing.T) {
	require.NoError(t, types.DefaultParams().Validate())
	require.NoError(t, types.DefaultGenesis().Validate())

	ok := types.DefaultParams()
	ok.DevFundAddress = sdk.AccAddress(make([]byte, 20)).String()
	ok.InflationRate = sdkmath.LegacyZeroDec()
	require.NoError(t, ok.Validate())

	cases := map[string]func(p *types.Params){
		"zero payment period":      func(p *types.Params) { p.PaymentPeriodBlocks = 0 },
		"zero blocks per year":     func(p *types.Params) { p.BlocksPerYear = 0 },
		"period longer than year":  func(p *types.Params) { p.PaymentPeriodBlocks = p.BlocksPerYear + 1 },
		"inflation above one":      func(p *types.Params) { p.InflationRate = sdkmath.LegacyNewDec(2) },
		"negative dev fund share":  func(p *types.Params) { p.DevFundShare = sdkmath.LegacyNewDec(-1) },
		"slash fraction above one": func(p *types.Params) { p.SlashFractionValidator = sdkmath.LegacyNewDecWithPrec(11, 1) },
		"unset inflation":          func(p *types.Params) { p.InflationRate = sdkmath.LegacyDec{} },
		"malformed dev fund":       func(p *types.Params) { p.DevFundAddress = "bc1notanaddress" },
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
	require.Error(t, types.NewMsgUpdateParams("x", types.DefaultParams()).ValidateBasic())
	bad := types.DefaultParams()
	bad.BlocksPerYear = 0
	require.ErrorIs(t, types.NewMsgUpdateParams(good, bad).ValidateBasic(), types.ErrInvalidParams)
}
