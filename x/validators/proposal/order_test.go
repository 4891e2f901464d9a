package proposal_test

import (
	"math/rand"
	"testing"

	"cosmossdk.io/log"
	abci "github.com/cometbft/cometbft/abci/types"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/stretchr/testify/require"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/buildchain/buildchain/app"
	"github.com/buildchain/buildchain/crypto/vrf"
	"github.com/buildchain/buildchain/x/validators/keeper"
	"github.com/buildchain/buildchain/x/validators/proposal"
)

// PrepareProposal hands the inner handler each sender's txs in sequence order (CometBFT 0.38
// can hold them out of order), leaving every other tx where it was.
func TestPrepareProposalOrdersEachSendersSequences(t *testing.T) {
	txCfg := app.New(log.NewNopLogger(), dbm.NewMemDB(), nil, false, simtestutil.NewAppOptionsWithFlagHome(t.TempDir())).TxConfig()
	alice, bob := secp256k1.GenPrivKey(), secp256k1.GenPrivKey()
	sign := func(k *secp256k1.PrivKey, seq uint64) []byte {
		from := sdk.AccAddress(k.PubKey().Address())
		return signed(t, txCfg, k, banktypes.NewMsgSend(from, from, sdk.NewCoins(sdk.NewInt64Coin("ubct", 1))), seq)
	}
	a5, a6, a7 := sign(alice, 5), sign(alice, 6), sign(alice, 7)
	b1, b2 := sign(bob, 1), sign(bob, 2)
	junk := []byte("not a tx")

	var got [][]byte
	capture := func(_ sdk.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
		got = req.Txs
		return &abci.ResponsePrepareProposal{Txs: req.Txs}, nil
	}
	h := proposal.NewHandler(keeper.Keeper{}, vrf.PrivateKey{}, capture, nil, log.NewNopLogger())
	prepare := func(txs ...[]byte) [][]byte {
		_, err := h.PrepareProposal()(sdk.Context{}, &abci.RequestPrepareProposal{Txs: txs, MaxTxBytes: 1 << 20})
		require.NoError(t, err)
		return got
	}

	// Alice's 7 and 6 swapped around Bob's and a junk tx: only Alice's positions change.
	require.Equal(t, [][]byte{a5, b1, a6, junk, b2, a7}, prepare(a5, b1, a7, junk, b2, a6))
	require.Equal(t, [][]byte{b1, a5, a6, a7, b2}, prepare(b1, a7, a6, a5, b2))
	// Already in order: untouched.
	require.Equal(t, [][]byte{a5, a6, b1, b2}, prepare(a5, a6, b1, b2))
	// Beacons are still dropped from the inner handler's txs.
	require.Equal(t, [][]byte{a5, a6}, prepare(keeper.EncodeBeacon(vrf.PublicKey{}, nil), a6, a5))

	// Random shuffles: each sender's txs come out sorted, in the positions it held.
	r := rand.New(rand.NewSource(3))
	var all [][]byte
	for s := uint64(0); s < 20; s++ {
		all = append(all, sign(alice, 100+s), sign(bob, 100+s))
	}
	for i := 0; i < 20; i++ {
		in := append([][]byte(nil), all...)
		r.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		out := prepare(in...)
		require.Len(t, out, len(in))
		var lastA, lastB int = -1, -1
		for j, tx := range out {
			isAlice := indexOf(all, tx)%2 == 0
			require.Equal(t, isAlice, indexOf(all, in[j])%2 == 0, "position %d changed sender", j)
			if isAlice {
				require.Greater(t, indexOf(all, tx), lastA)
				lastA = indexOf(all, tx)
			} else {
				require.Greater(t, indexOf(all, tx), lastB)
				lastB = indexOf(all, tx)
			}
		}
	}
}

func indexOf(txs [][]byte, tx []byte) int {
	for i, t := range txs {
		if string(t) == string(tx) {
			return i
		}
	}
	return -1
}

func signed(t *testing.T, txCfg client.TxConfig, k *secp256k1.PrivKey, msg sdk.Msg, seq uint64) []byte {
	t.Helper()
	tx, err := simtestutil.GenSignedMockTx(rand.New(rand.NewSource(int64(seq))), txCfg, []sdk.Msg{msg}, sdk.NewCoins(), 200_000,
		"buildchain-test", []uint64{7}, []uint64{seq}, k)
	require.NoError(t, err)
	bz, err := txCfg.TxEncoder()(tx)
	require.NoError(t, err)
	return bz
}
