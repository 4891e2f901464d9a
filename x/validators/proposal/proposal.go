package proposal

import (
	"sort"

	"cosmossdk.io/log"
	abci "github.com/cometbft/cometbft/abci/types"

	sdk "github.com/cosmos/cosmos-sdk/types"
	txtypes "github.com/cosmos/cosmos-sdk/types/tx"

	"github.com/buildchain/buildchain/crypto/vrf"
	"github.com/buildchain/buildchain/x/validators/keeper"
)

// Handler wraps the app's default proposal handlers with the beacon.
type Handler struct {
	keeper  keeper.Keeper
	key     vrf.PrivateKey
	prepare sdk.PrepareProposalHandler
	process sdk.ProcessProposalHandler
	logger  log.Logger
}

// NewHandler returns a Handler. key is this node's VRF key (from the node home); prepare and
// process are the handlers that select and check the ordinary transactions (e.g. baseapp's
// default proposal handler).
func NewHandler(k keeper.Keeper, key vrf.PrivateKey, prepare sdk.PrepareProposalHandler,
	process sdk.ProcessProposalHandler, logger log.Logger,
) *Handler {
	return &Handler{keeper: k, key: key, prepare: prepare, process: process, logger: logger.With("module", "vrf-beacon")}
}

// PrepareProposal adds the beacon as the first transaction when one is due, and hands the
// ordinary transactions to the inner handler with each sender's in sequence order.
func (h *Handler) PrepareProposal() sdk.PrepareProposalHandler {
	return func(ctx sdk.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
		var beacon []byte
		if !h.key.IsZero() {
			b, err := h.keeper.BuildBeacon(ctx, h.key, sdk.ConsAddress(req.ProposerAddress), req.Height)
			if err != nil {
				// The block will be rejected by the others if a proof was due; say why loudly.
				h.logger.Error("cannot build VRF beacon", "height", req.Height, "err", err)
			}
			beacon = b
		}
		inner := *req
		inner.Txs = inSequenceOrder(withoutBeacons(req.Txs))
		inner.MaxTxBytes -= int64(len(beacon))
		if beacon != nil {
			ctx = reserveBeaconGas(ctx)
		}
		resp, err := h.prepare(ctx, &inner)
		if err != nil {
			return nil, err
		}
		if beacon != nil {
			resp.Txs = append([][]byte{beacon}, resp.Txs...)
		}
		return resp, nil
	}
}

// ProcessProposal rejects blocks with a missing, forged or misplaced beacon, then lets the
// inner handler check the ordinary transactions.
func (h *Handler) ProcessProposal() sdk.ProcessProposalHandler {
	return func(ctx sdk.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
		if _, err := h.keeper.VerifyBeacon(ctx, req.Txs, sdk.ConsAddress(req.ProposerAddress), req.Height); err != nil {
			h.logger.Info("rejecting proposal", "height", req.Height, "proposer", sdk.ConsAddress(req.ProposerAddress).String(), "err", err)
			return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
		}
		inner := *req
		if len(req.Txs) > 0 && keeper.IsBeaconTx(req.Txs[0]) {
			inner.Txs = req.Txs[1:]
			ctx = reserveBeaconGas(ctx)
		}
		return h.process(ctx, &inner)
	}
}

// PreBlocker records the block's randomness after the inner pre-blocker (x/upgrade first).
func (h *Handler) PreBlocker(inner sdk.PreBlocker) sdk.PreBlocker {
	return func(ctx sdk.Context, req *abci.RequestFinalizeBlock) (*sdk.ResponsePreBlock, error) {
		resp := &sdk.ResponsePreBlock{}
		if inner != nil {
			r, err := inner(ctx, req)
			if err != nil {
				return nil, err
			}
			resp = r
		}
		if err := h.keeper.ApplyBeacon(ctx, req.Txs, sdk.ConsAddress(req.ProposerAddress), req.Height); err != nil {
			return nil, err
		}
		return resp, nil
	}
}

// reserveBeaconGas lowers the block gas limit the inner handlers fill (or check) by the
// beacon's gas limit when the consensus params set one: FinalizeBlock counts the beacon's gas in
// the block gas meter, so without the reserve a full block's last transaction could run out of
// block gas.
func reserveBeaconGas(ctx sdk.Context) sdk.Context {
	cp := ctx.ConsensusParams()
	if cp.Block == nil || cp.Block.MaxGas <= 0 {
		return ctx
	}
	block := *cp.Block
	block.MaxGas = max(block.MaxGas-keeper.BeaconGasLimit, 1)
	cp.Block = &block
	return ctx.WithConsensusParams(cp)
}

func withoutBeacons(txs [][]byte) [][]byte {
	out := txs[:0:0]
	for _, tx := range txs {
		if !keeper.IsBeaconTx(tx) {
			out = append(out, tx)
		}
	}
	return out
}

// inSequenceOrder returns txs with each sender's transactions in increasing sequence order,
// within the positions that sender's transactions hold; every other transaction keeps its
// place. CometBFT 0.38's mempool can hold one sender's transactions out of order (CheckTx
// results are appended to the mempool outside the ABCI lock, so when RPC and several peers
// deliver a sender's consecutive txs concurrently, k+1 can land before k). Proposed as is,
// tx k+1 fails its sequence check and the sender's later txs are evicted at recheck; sorted,
// all of them go through. Only single-signer, ordered (not "unordered") txs with a public key
// in their signer info are moved; anything that does not decode stays where it is.
func inSequenceOrder(txs [][]byte) [][]byte {
	senders := map[string][]int{} // sender's public key → positions of its txs
	seqs := make([]uint64, len(txs))
	for i, bz := range txs {
		key, seq, ok := senderSequence(bz)
		if !ok {
			continue
		}
		seqs[i] = seq
		senders[key] = append(senders[key], i)
	}
	var out [][]byte
	// Each sender's positions are disjoint from the others', so the order in which senders
	// are visited does not matter.
	for _, pos := range senders {
		if len(pos) < 2 || sort.SliceIsSorted(pos, func(a, b int) bool { return seqs[pos[a]] < seqs[pos[b]] }) {
			continue
		}
		if out == nil {
			out = append([][]byte(nil), txs...)
		}
		sorted := append([]int(nil), pos...)
		sort.SliceStable(sorted, func(a, b int) bool { return seqs[sorted[a]] < seqs[sorted[b]] })
		for j, p := range pos {
			out[p] = txs[sorted[j]]
		}
	}
	if out == nil {
		return txs
	}
	return out
}

// senderSequence reads a tx's only signer (its public key, as encoded) and sequence without
// decoding the messages.
func senderSequence(bz []byte) (string, uint64, bool) {
	var raw txtypes.TxRaw
	if err := raw.Unmarshal(bz); err != nil {
		return "", 0, false
	}
	var auth txtypes.AuthInfo
	if err := auth.Unmarshal(raw.AuthInfoBytes); err != nil || len(auth.SignerInfos) != 1 {
		return "", 0, false
	}
	si := auth.SignerInfos[0]
	if si == nil || si.PublicKey == nil || len(si.PublicKey.Value) == 0 {
		return "", 0, false
	}
	var body txtypes.TxBody
	if err := body.Unmarshal(raw.BodyBytes); err != nil || body.Unordered {
		return "", 0, false
	}
	return si.PublicKey.TypeUrl + "/" + string(si.PublicKey.Value), si.Sequence, true
}
