package proposal_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"cosmossdk.io/log"
	sdkmath "cosmossdk.io/math"
	abci "github.com/cometbft/cometbft/abci/types"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/stretchr/testify/require"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/buildchain/buildchain/app"
	"github.com/buildchain/buildchain/crypto/vrf"
	"github.com/buildchain/buildchain/x/validators/keeper"
	"github.com/buildchain/buildchain/x/validators/types"
)

// TestAppBeacon drives the real app through ABCI++ (PrepareProposal, ProcessProposal,
// FinalizeBlock, Commit): the proposer's first block self-registers its VRF key from the node
// home, later blocks carry proofs that become the block randomness, and ProcessProposal
// rejects the same block with the proof missing or forged.
func TestAppBeacon(t *testing.T) {
	home := t.TempDir()
	a := app.New(log.NewNopLogger(), dbm.NewMemDB(), nil, true, simtestutil.NewAppOptionsWithFlagHome(home),
		baseapp.SetChainID("buildchain-test"))
	key, err := vrf.LoadKeyFile(vrf.KeyFilePath(home))
	require.NoError(t, err, "the app creates the node's VRF key in its home")

	valSet, err := simtestutil.CreateRandomValidatorSet()
	require.NoError(t, err)
	acc := authtypes.NewBaseAccountWithAddress(sdk.AccAddress(secp256k1.GenPrivKey().PubKey().Address()))
	bal := banktypes.Balance{Address: acc.GetAddress().String(), Coins: sdk.NewCoins(sdk.NewCoin("ubct", sdkmath.NewInt(1e12)))}
	gs, err := simtestutil.GenesisStateWithValSet(a.AppCodec(), a.DefaultGenesis(), valSet, []authtypes.GenesisAccount{acc}, bal)
	require.NoError(t, err)
	bz, err := json.Marshal(gs)
	require.NoError(t, err)
	_, err = a.InitChain(&abci.RequestInitChain{ChainId: "buildchain-test", AppStateBytes: bz,
		ConsensusParams: simtestutil.DefaultConsensusParams, InitialHeight: 1})
	require.NoError(t, err)
	proposer := valSet.Validators[0].Address.Bytes()

	block := func(h int64) [][]byte {
		prep, err := a.PrepareProposal(&abci.RequestPrepareProposal{Height: h, ProposerAddress: proposer, MaxTxBytes: 1 << 20})
		require.NoError(t, err)
		proc, err := a.ProcessProposal(&abci.RequestProcessProposal{Height: h, ProposerAddress: proposer, Txs: prep.Txs})
		require.NoError(t, err)
		require.Equal(t, abci.ResponseProcessProposal_ACCEPT, proc.Status, "height %d", h)
		return prep.Txs
	}
	// Every transaction of every block decodes with the SDK's tx decoder and succeeds: the
	// beacon is a MsgBeacon signed by nobody, not raw bytes (which gave "tx parse error").
	finalize := func(h int64, txs [][]byte) {
		res, err := a.FinalizeBlock(&abci.RequestFinalizeBlock{Height: h, ProposerAddress: proposer, Txs: txs})
		require.NoError(t, err)
		require.Len(t, res.TxResults, len(txs))
		for i, tx := range txs {
			decoded, err := a.TxConfig().TxDecoder()(tx)
			require.NoError(t, err, "height %d tx %d", h, i)
			_, err = decoded.GetMsgsV2() // resolves the messages' signers, as the SDK's tx service does
			require.NoError(t, err)
			require.Equal(t, uint32(0), res.TxResults[i].Code, "height %d tx %d: %s", h, i, res.TxResults[i].Log)
		}
		_, err = a.Commit()
		require.NoError(t, err)
	}
	randomness := func(h int64) types.Randomness {
		r, err := keeper.NewQueryServerImpl(a.ValidatorsKeeper).Randomness(a.NewContext(true), &types.QueryRandomnessRequest{Height: h})
		require.NoError(t, err)
		return r.Randomness
	}

	txs := block(1)
	require.Len(t, txs, 1)
	require.True(t, keeper.IsBeaconTx(txs[0]), "bootstrap beacon")
	decoded, err := a.TxConfig().TxDecoder()(txs[0])
	require.NoError(t, err)
	require.Len(t, decoded.GetMsgs(), 1)
	require.IsType(t, &types.MsgBeacon{}, decoded.GetMsgs()[0])
	// Nobody can send a beacon: CheckTx and simulation refuse it with a clear error.
	check, err := a.CheckTx(&abci.RequestCheckTx{Tx: txs[0], Type: abci.CheckTxType_New})
	require.NoError(t, err)
	require.Equal(t, types.ErrBeaconNotSendable.ABCICode(), check.Code, check.Log)
	_, _, err = a.Simulate(txs[0])
	require.ErrorIs(t, err, types.ErrBeaconNotSendable)
	finalize(1, txs)
	require.False(t, randomness(1).FromVrf)
	delay := int64(types.DefaultVrfKeyActivationDelay)
	for h := int64(2); h < 1+delay; h++ {
		txs = block(h)
		require.Empty(t, txs, "key pending: no beacon")
		finalize(h, txs)
	}
	h := 1 + delay
	txs = block(h)
	require.Len(t, txs, 1)
	pk, proof, err := keeper.DecodeBeacon(txs[0])
	require.NoError(t, err)
	require.True(t, key.Public().Equal(pk))

	reject := func(what string, bad [][]byte) {
		proc, err := a.ProcessProposal(&abci.RequestProcessProposal{Height: h, ProposerAddress: proposer, Txs: bad})
		require.NoError(t, err)
		require.Equal(t, abci.ResponseProcessProposal_REJECT, proc.Status, what)
	}
	reject("missing proof", nil)
	forged := bytes.Clone(proof)
	forged[5] ^= 1
	reject("forged proof", [][]byte{keeper.EncodeBeacon(pk, forged)})
	other, _ := vrf.GenerateKey(nil)
	reject("another key's proof", [][]byte{keeper.EncodeBeacon(other.Public(), other.Prove([]byte("x")))})
	reject("beacon not first", [][]byte{txs[0], txs[0]})
	// The same message in another transaction (a memo added) is not the canonical beacon.
	builder := a.TxConfig().NewTxBuilder()
	require.NoError(t, builder.SetMsgs(&types.MsgBeacon{Authority: keeper.BeaconAuthority(), PublicKey: pk, Proof: proof}))
	builder.SetMemo("hi")
	builder.SetGasLimit(keeper.BeaconGasLimit)
	varied, err := a.TxConfig().TxEncoder()(builder.GetTx())
	require.NoError(t, err)
	require.True(t, keeper.IsBeaconTx(varied))
	reject("non-canonical beacon", [][]byte{varied})

	finalize(h, txs)
	r := randomness(h)
	require.True(t, r.FromVrf)
	prev := randomness(h - 1)
	beta, err := vrf.Verify(pk, r.Proof, keeper.Alpha(prev.Value, h))
	require.NoError(t, err)
	require.Equal(t, beta, r.Value)
}
