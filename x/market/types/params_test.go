package types_test

import (
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/market/types"
)

func TestParamsValidate(t *testing.T) {
	require.NoError(t, types.DefaultParams().Validate())
	require.NoError(t, types.DefaultGenesis().Validate())

	ok := types.DefaultParams()
	ok.Quorum = sdk.NewCoin("ubct", sdkmath.ZeroInt())
	ok.MarketFee = sdkmath.LegacyZeroDec()
	require.NoError(t, ok.Validate())

	cases := map[string]func(p *types.Params){
		"zero commit blocks": func(p *types.Params) { p.CommitBlocks = 0 },
		"zero reveal blocks": func(p *types.Params) { p.RevealBlocks = 0 },
		"negative quorum":    func(p *types.Params) { p.Quorum = sdk.Coin{Denom: "ubct", Amount: sdkmath.NewInt(-5)} },
		"zero min stake":     func(p *types.Params) { p.MinStake = sdk.NewCoin("ubct", sdkmath.ZeroInt()) },
		"denoms differ":      func(p *types.Params) { p.Quorum = sdk.NewCoin("uatom", sdkmath.NewInt(5)) },
		"fee of one":         func(p *types.Params) { p.MarketFee = sdkmath.LegacyOneDec() },
		"negative fee":       func(p *types.Params) { p.MarketFee = sdkmath.LegacyNewDec(-1) },
		"fee unset":          func(p *types.Params) { p.MarketFee = sdkmath.LegacyDec{} },
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
	require.Error(t, types.NewMsgUpdateParams("bc1invalid", types.DefaultParams()).ValidateBasic())
	bad := types.DefaultParams()
	bad.CommitBlocks = 0
	require.ErrorIs(t, types.NewMsgUpdateParams(good, bad).ValidateBasic(), types.ErrInvalidParams)
}

func TestParamsStakeDenomIsBondDenom(t *testing.T) {
	p := types.DefaultParams()
	p.MinStake = sdk.NewInt64Coin("uatom", 1)
	p.Quorum = sdk.NewInt64Coin("uatom", 1)
	require.ErrorContains(t, p.Validate(), "min_stake must be in ubct")
}
