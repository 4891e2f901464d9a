package types_test

import (
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/claims/types"
)

func TestParamsValidate(t *testing.T) {
	require.NoError(t, types.DefaultParams().Validate())
	require.NoError(t, types.DefaultGenesis().Validate())

	// Boundaries that are allowed.
	ok := types.DefaultParams()
	ok.ClaimFee = sdk.NewCoin("ubct", sdkmath.ZeroInt())
	ok.PContinue = sdkmath.LegacyOneDec()
	ok.MinRounds, ok.MaxRounds = 3, 3
	require.NoError(t, ok.Validate())

	cases := map[string]func(p *types.Params){
		"zero min deposit":        func(p *types.Params) { p.MinDeposit = sdk.NewCoin("ubct", sdkmath.ZeroInt()) },
		"negative claim fee":      func(p *types.Params) { p.ClaimFee = sdk.Coin{Denom: "ubct", Amount: sdkmath.NewInt(-1)} },
		"p_continue above one":    func(p *types.Params) { p.PContinue = sdkmath.LegacyNewDecWithPrec(101, 2) },
		"p_continue negative":     func(p *types.Params) { p.PContinue = sdkmath.LegacyNewDec(-1) },
		"p_continue unset":        func(p *types.Params) { p.PContinue = sdkmath.LegacyDec{} },
		"zero min rounds":         func(p *types.Params) { p.MinRounds = 0 },
		"max below min rounds":    func(p *types.Params) { p.MinRounds, p.MaxRounds = 4, 3 },
		"zero report timeout":     func(p *types.Params) { p.ReportTimeoutBlocks = 0 },
		"slash fraction above 1":  func(p *types.Params) { p.SlashFractionTimeout = sdkmath.LegacyNewDec(2) },
		"slash fraction negative": func(p *types.Params) { p.SlashFractionTimeout = sdkmath.LegacyNewDec(-1) },
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
	require.Error(t, types.NewMsgUpdateParams("", types.DefaultParams()).ValidateBasic())
	bad := types.DefaultParams()
	bad.MaxRounds = 0
	require.ErrorIs(t, types.NewMsgUpdateParams(good, bad).ValidateBasic(), types.ErrInvalidParams)
}
