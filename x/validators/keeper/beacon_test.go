package keeper_test

import (
	"bytes"
	"testing"

	"cosmossdk.io/log"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/crypto/vrf"
	"github.com/buildchain/buildchain/x/validators/keeper"
	"github.com/buildchain/buildchain/x/validators/proposal"
	vt "github.com/buildchain/buildchain/x/validators/testutil"
	"github.com/buildchain/buildchain/x/validators/types"
)

// acceptAll stands in for baseapp's default handlers (which check ordinary transactions).
func innerPrepare(_ sdk.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	return &abci.ResponsePrepareProposal{Txs: req.Txs}, nil
}

func innerProcess(_ sdk.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	for _, tx := range req.Txs {
		if keeper.IsBeaconTx(tx) {
			// The beacon must have been stripped before the ordinary checks.
			return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
		}
	}
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

type beaconNode struct {
	h    *proposal.Handler
	key  vrf.PrivateKey
	cons sdk.ConsAddress
}

func newNode(t *testing.T, f *vt.Fixture, i int) beaconNode {
	key, err := vrf.GenerateKey(nil)
	require.NoError(t, err)
	cons := f.Staking.AddAuthority(t, vt.Addr(100+i))
	return beaconNode{h: proposal.NewHandler(f.Validators, key, innerPrepare, innerProcess, log.NewNopLogger()), key: key, cons: cons}
}

func (n beaconNode) prepare(t *testing.T, f *vt.Fixture, txs ...[]byte) [][]byte {
	t.Helper()
	res, err := n.h.PrepareProposal()(f.Ctx, &abci.RequestPrepareProposal{
		Txs: txs, MaxTxBytes: 1 << 20, Height: f.Ctx.BlockHeight(), ProposerAddress: n.cons,
	})
	require.NoError(t, err)
	return res.Txs
}

func process(t *testing.T, f *vt.Fixture, n beaconNode, proposer sdk.ConsAddress, txs [][]byte) abci.ResponseProcessProposal_ProposalStatus {
	t.Helper()
	res, err := n.h.ProcessProposal()(f.Ctx, &abci.RequestProcessProposal{
		Txs: txs, Height: f.Ctx.BlockHeight(), ProposerAddress: proposer,
	})
	require.NoError(t, err)
	return res.Status
}

// finalize applies the block (PreBlocker) and moves to the next height.
func finalize(t *testing.T, f *vt.Fixture, n beaconNode, proposer sdk.ConsAddress, txs [][]byte) types.Randomness {
	t.Helper()
	_, err := n.h.PreBlocker(nil)(f.Ctx, &abci.RequestFinalizeBlock{Txs: txs, Height: f.Ctx.BlockHeight(), ProposerAddress: proposer})
	require.NoError(t, err)
	r, err := f.Validators.Randomness.Get(f.Ctx, f.Ctx.BlockHeight())
	require.NoError(t, err)
	f.Ctx = f.Ctx.WithBlockHeight(f.Ctx.BlockHeight() + 1)
	return r
}

const accept, reject = abci.ResponseProcessProposal_ACCEPT, abci.ResponseProcessProposal_REJECT

func TestBeaconBootstrapActivationAndVRFRandomness(t *testing.T) {
	f := vt.NewFixture(t)
	a := newNode(t, f, 1)
	delay := int64(types.DefaultVrfKeyActivationDelay)

	// Height 1: no key known. The proposer self-registers through its beacon.
	txs := a.prepare(t, f, []byte("tx1"))
	require.Len(t, txs, 2)
	require.True(t, keeper.IsBeaconTx(txs[0]))
	require.Equal(t, []byte("tx1"), txs[1])
	require.Equal(t, accept, process(t, f, a, a.cons, txs))
	r := finalize(t, f, a, a.cons, txs)
	require.False(t, r.FromVrf, "a key chosen at proposal time must not give this block's randomness")
	rec, err := f.Validators.VrfKeys.Get(f.Ctx, a.cons)
	require.NoError(t, err)
	require.Equal(t, []byte(a.key.Public()), rec.NextPublicKey)
	require.Equal(t, int64(1)+delay, rec.NextActivationHeight)

	// While pending: no beacon is produced, and one sent anyway is refused.
	for f.Ctx.BlockHeight() < 1+delay {
		txs = a.prepare(t, f)
		require.Empty(t, txs)
		forged := keeper.EncodeBeacon(a.key.Public(), a.key.Prove(keeper.Alpha(r.Value, f.Ctx.BlockHeight())))
		require.Equal(t, reject, process(t, f, a, a.cons, [][]byte{forged}))
		require.Equal(t, accept, process(t, f, a, a.cons, txs))
		r = finalize(t, f, a, a.cons, txs)
		require.False(t, r.FromVrf)
	}

	// Active: every block carries a proof, its output is the block randomness and chains.
	prev := r
	for i := 0; i < 3; i++ {
		txs = a.prepare(t, f)
		require.Len(t, txs, 1)
		require.Equal(t, accept, process(t, f, a, a.cons, txs))
		height := f.Ctx.BlockHeight()
		r = finalize(t, f, a, a.cons, txs)
		require.True(t, r.FromVrf)
		beta, err := vrf.Verify(a.key.Public(), r.Proof, keeper.Alpha(prev.Value, height))
		require.NoError(t, err)
		require.Equal(t, beta, r.Value)
		require.NotEqual(t, prev.Value, r.Value)
		prev = r
	}
	q, err := f.ValQuery.Randomness(f.Ctx, &types.QueryRandomnessRequest{Height: prev.Height})
	require.NoError(t, err)
	require.Equal(t, prev, q.Randomness)
	last, err := f.ValQuery.Randomness(f.Ctx, &types.QueryRandomnessRequest{})
	require.NoError(t, err)
	require.Equal(t, prev, last.Randomness)

	// Executing the beacon's MsgBeacon (FinalizeBlock, after the PreBlocker) succeeds only for
	// the beacon applied at that height, and only in FinalizeBlock.
	fin := f.Ctx.WithBlockHeight(prev.Height).WithExecMode(sdk.ExecModeFinalize)
	msg := &types.MsgBeacon{Authority: keeper.BeaconAuthority(), PublicKey: a.key.Public(), Proof: prev.Proof}
	_, err = f.ValMsgs.Beacon(fin, msg)
	require.NoError(t, err)
	_, err = f.ValMsgs.Beacon(f.Ctx.WithBlockHeight(prev.Height), msg)
	require.ErrorIs(t, err, types.ErrBeaconNotSendable, "CheckTx")
	other := *msg
	other.Proof = bytes.Clone(prev.Proof)
	other.Proof[3] ^= 1
	_, err = f.ValMsgs.Beacon(fin, &other)
	require.ErrorIs(t, err, types.ErrInvalidBeacon, "not the applied proof")
	other = *msg
	other.Authority = vt.Addr(5).String()
	_, err = f.ValMsgs.Beacon(fin, &other)
	require.ErrorIs(t, err, types.ErrInvalidBeacon, "another authority")
	_, err = f.ValMsgs.Beacon(fin.WithBlockHeight(prev.Height+1000), msg)
	require.ErrorIs(t, err, types.ErrInvalidBeacon, "no beacon at that height")
}

// The VRF test: a block with a forged or missing proof is rejected by ProcessProposal.
func TestProcessProposalRejectsForgedOrMissingProof(t *testing.T) {
	f := vt.NewFixture(t)
	a := newNode(t, f, 1)
	b := newNode(t, f, 2)
	// Register a's key and let it activate.
	require.NoError(t, f.Validators.VrfKeys.Set(f.Ctx, a.cons, types.VrfKey{ConsensusAddress: a.cons.String(), PublicKey: a.key.Public()}))
	good := a.prepare(t, f, []byte("tx"))
	require.Equal(t, accept, process(t, f, b, a.cons, good), "honest block accepted by another node")

	last, err := f.Validators.LastRandomness.Get(f.Ctx)
	require.NoError(t, err)
	alpha := keeper.Alpha(last.Value, f.Ctx.BlockHeight())
	_, proof, err := keeper.DecodeBeacon(good[0])
	require.NoError(t, err)
	flipped := bytes.Clone(proof)
	flipped[40] ^= 0x80
	cases := map[string][][]byte{
		"missing proof":                     {[]byte("tx")},
		"empty block without proof":         nil,
		"proof by another key, a's key":     {keeper.EncodeBeacon(a.key.Public(), b.key.Prove(alpha))},
		"proof by another key, its own key": {keeper.EncodeBeacon(b.key.Public(), b.key.Prove(alpha))},
		"tampered proof":                    {keeper.EncodeBeacon(a.key.Public(), flipped)},
		"proof for another height (replay)": {keeper.EncodeBeacon(a.key.Public(), a.key.Prove(keeper.Alpha(last.Value, f.Ctx.BlockHeight()-1)))},
		"proof over other randomness":       {keeper.EncodeBeacon(a.key.Public(), a.key.Prove(keeper.Alpha(make([]byte, 64), f.Ctx.BlockHeight())))},
		"truncated beacon":                  {good[0][:len(good[0])-1]},
		"beacon not first":                  {[]byte("tx"), good[0]},
		"second beacon after a valid one":   {good[0], good[0]},
	}
	for name, txs := range cases {
		require.Equal(t, reject, process(t, f, b, a.cons, txs), name)
	}
	// A proposer without any key may not claim to be a's key holder either: b's blocks with a's proof.
	require.Equal(t, reject, process(t, f, a, b.cons, [][]byte{keeper.EncodeBeacon(b.key.Public(), a.key.Prove(alpha))}))
	// A node whose local key is not the registered one cannot build a valid block.
	_, err = f.Validators.BuildBeacon(f.Ctx, b.key, a.cons, f.Ctx.BlockHeight())
	require.ErrorIs(t, err, types.ErrInvalidVrfKey)
}

func TestRegisterVrfKeyAndRotation(t *testing.T) {
	f := vt.NewFixture(t)
	a := newNode(t, f, 1)
	op := vt.Addr(101)
	notAuthority := vt.Addr(7)
	k2, _ := vrf.GenerateKey(nil)

	_, err := f.ValMsgs.RegisterVrfKey(f.Ctx, &types.MsgRegisterVrfKey{Operator: notAuthority.String(), PublicKey: k2.Public()})
	require.ErrorIs(t, err, types.ErrNotAuthority)
	_, err = f.ValMsgs.RegisterVrfKey(f.Ctx, &types.MsgRegisterVrfKey{Operator: op.String(), PublicKey: []byte{1, 2, 3}})
	require.ErrorIs(t, err, types.ErrInvalidVrfKey)
	identity := make([]byte, 32)
	identity[0] = 1
	_, err = f.ValMsgs.RegisterVrfKey(f.Ctx, &types.MsgRegisterVrfKey{Operator: op.String(), PublicKey: identity})
	require.ErrorIs(t, err, types.ErrInvalidVrfKey, "small-order key refused")

	res, err := f.ValMsgs.RegisterVrfKey(f.Ctx, &types.MsgRegisterVrfKey{Operator: op.String(), PublicKey: a.key.Public()})
	require.NoError(t, err)
	delay := int64(types.DefaultVrfKeyActivationDelay)
	require.Equal(t, f.Ctx.BlockHeight()+delay, res.ActivationHeight)
	rec, _ := f.Validators.VrfKeys.Get(f.Ctx, a.cons)
	require.Nil(t, rec.KeyAt(res.ActivationHeight-1))
	require.Equal(t, []byte(a.key.Public()), rec.KeyAt(res.ActivationHeight))
	require.Equal(t, sdk.ValAddress(op).String(), rec.Operator)

	// Rotate after activation: the old key stays in force until the new one activates.
	f.Ctx = f.Ctx.WithBlockHeight(res.ActivationHeight + 1)
	res2, err := f.ValMsgs.RegisterVrfKey(f.Ctx, &types.MsgRegisterVrfKey{Operator: op.String(), PublicKey: k2.Public()})
	require.NoError(t, err)
	rec, _ = f.Validators.VrfKeys.Get(f.Ctx, a.cons)
	require.Equal(t, []byte(a.key.Public()), rec.KeyAt(res2.ActivationHeight-1))
	require.Equal(t, []byte(k2.Public()), rec.KeyAt(res2.ActivationHeight))
	keys, err := f.ValQuery.VrfKeys(f.Ctx, &types.QueryVrfKeysRequest{})
	require.NoError(t, err)
	require.Len(t, keys.VrfKeys, 1)
}
