package types_test

import (
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/claims/types"
)

func c(codec uint64, s string) cid.Cid {
	sum, _ := mh.Sum([]byte(s), mh.SHA2_256, -1)
	return cid.NewCidV1(codec, sum)
}

func TestParseCID(t *testing.T) {
	drv := c(cid.DagJSON, "d")
	_, err := types.ParseCID("x", drv.String(), types.DerivationCodecs...)
	require.NoError(t, err)
	_, err = types.ParseCID("x", c(cid.Raw, "r").String(), types.OutputCodecs...)
	require.NoError(t, err)
	b58, _ := drv.StringOfBase('z')
	bad := map[string]string{
		"empty":         "",
		"garbage":       "hello",
		"cidv0":         cid.NewCidV0(drv.Hash()).String(),
		"non-canonical": b58,
		"wrong codec":   c(cid.DagProtobuf, "p").String(),
		"too long":      string(make([]byte, 200)),
	}
	for name, s := range bad {
		_, err := types.ParseCID("derivation_cid", s, types.DerivationCodecs...)
		require.ErrorIs(t, err, types.ErrInvalidCID, name)
		require.Contains(t, err.Error(), "derivation_cid", name)
	}
	sha512, _ := mh.Sum([]byte("x"), mh.SHA2_512, -1)
	_, err = types.ParseCID("o", cid.NewCidV1(cid.Raw, sha512).String())
	require.ErrorContains(t, err, "sha2-256")
}

func TestMsgValidateBasic(t *testing.T) {
	addr := sdk.AccAddress(make([]byte, 20)).String()
	drv, out := c(cid.DagJSON, "d").String(), c(cid.DagProtobuf, "o").String()
	ok := types.MsgSubmitClaim{Publisher: addr, DerivationCid: drv, System: "x86_64-linux", Deposit: sdk.NewInt64Coin("ubct", 1),
		OutputCommitment: types.ClaimCommitment(addr, drv, out, []byte("salt 0123456789abcdef"))}
	require.NoError(t, ok.ValidateBasic())
	for name, mut := range map[string]func(*types.MsgSubmitClaim){
		"publisher":  func(m *types.MsgSubmitClaim) { m.Publisher = "x" },
		"derivation": func(m *types.MsgSubmitClaim) { m.DerivationCid = out },
		"commitment": func(m *types.MsgSubmitClaim) { m.OutputCommitment = m.OutputCommitment[1:] },
		"system":     func(m *types.MsgSubmitClaim) { m.System = "x86_64" },
		"deposit":    func(m *types.MsgSubmitClaim) { m.Deposit = sdk.NewInt64Coin("ubct", 0) },
	} {
		m := ok
		mut(&m)
		require.Error(t, m.ValidateBasic(), name)
	}
	open := ok
	open.OutputCid = out
	require.ErrorIs(t, open.ValidateBasic(), types.ErrOpenClaim)
	// Every open report is refused, however well-formed.
	rep := types.MsgReportBuild{Validator: addr, ClaimId: 1, Round: 1, OutputCid: out}
	require.ErrorIs(t, rep.ValidateBasic(), types.ErrOpenClaim)
}
