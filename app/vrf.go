package app

import (
	"cosmossdk.io/log"

	"github.com/cosmos/cosmos-sdk/baseapp"

	"github.com/buildchain/buildchain/crypto/vrf"
	"github.com/buildchain/buildchain/x/validators/proposal"
)

// setupVRFBeacon installs the per-block VRF randomness beacon (x/validators/proposal):
// PrepareProposal adds this node's proof as the block's first transaction (a standard SDK
// transaction holding a MsgBeacon), ProcessProposal rejects blocks with a missing or forged
// proof, and the PreBlocker records each block's randomness; the app's ante handler and
// mempool are wrapped so that nobody else can send a beacon (see proposal.AnteHandler). The node's VRF key lives
// in <home>/config/vrf_key.json; it is created on first start when `buildchaind vrf init`
// did not create it (a node without a home, e.g. in unit tests, proposes without proofs and
// its blocks get fallback randomness until it registers a key).
func (app *App) setupVRFBeacon(homePath string, logger log.Logger) {
	var key vrf.PrivateKey
	if homePath != "" {
		k, created, err := vrf.LoadOrGenerateKeyFile(vrf.KeyFilePath(homePath))
		switch {
		case err != nil:
			logger.Error("no VRF key: this node's proposals will carry no randomness proof", "err", err)
		case created:
			logger.Info("created VRF key", "path", vrf.KeyFilePath(homePath))
		}
		key = k
	}
	app.SetMempool(proposal.Mempool(app.Mempool())) // beacons never enter it
	dflt := baseapp.NewDefaultProposalHandler(app.Mempool(), app)
	h := proposal.NewHandler(app.ValidatorsKeeper, key, dflt.PrepareProposalHandler(), dflt.ProcessProposalHandler(), logger)
	app.SetPrepareProposal(h.PrepareProposal())
	app.SetProcessProposal(h.ProcessProposal())
	app.SetPreBlocker(h.PreBlocker(app.PreBlocker))
}
