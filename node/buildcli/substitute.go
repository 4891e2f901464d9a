package buildcli

import (
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/p2p"
)

// NetworkFunc reads the network cache's parts from a command's flags: the chain client
// asked for verified outputs and the p2p host that fetches them (node/runtime.Config's
// Chain and P2P).
type NetworkFunc func(cmd *cobra.Command) (*chain.Client, *p2p.Config, error)

// network is the network cache `build` consults first; nil means local builds only. The
// binary sets it (the chain's client context and the p2p flags are node/nodecli's), so
// the build tools keep working as a plain local cache without it.
var network struct {
	open     NetworkFunc
	addFlags func(*cobra.Command)
}

// SetNetwork makes `build` ask the network cache first (unless --no-substitute or
// --check). addFlags adds the flags open reads (chain node, p2p). Call it before Commands.
func SetNetwork(open NetworkFunc, addFlags func(*cobra.Command)) {
	network.open, network.addFlags = open, addFlags
}
