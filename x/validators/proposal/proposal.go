package proposal

import (
	"cosmossdk.io/log"
	abci "github.com/cometbft/cometbft/abci/types"

	sdk "github.com/cosmos/cosmos-sdk/types"

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

// PrepareProposal adds the beacon as the first transaction when one is due.
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
		inner.Txs = withoutBeacons(req.Txs)
		inner.MaxTxBytes -= int64(len(beacon))
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

func withoutBeacons(txs [][]byte) [][]byte {
	out := txs[:0:0]
	for _, tx := range txs {
		if !keeper.IsBeaconTx(tx) {
			out = append(out, tx)
		}
	}
	return out
}
