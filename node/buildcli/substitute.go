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

// Network is the network cache `build` and `cargo build` consult first (unless
// --no-substitute or --check). The binary passes it to Commands (the chain's client
// context and the p2p flags are node/nodecli's); without it the build tools are a plain
// local cache.
type Network struct {
	// Open reads the chain client and the p2p configuration from the command's flags.
	Open NetworkFunc
	// AddFlags adds the flags Open reads (chain node, p2p) to a command.
	AddFlags func(*cobra.Command)
}

// open returns n's NetworkFunc if the command substitutes (nil: local builds only).
func (n *Network) open(substitute bool) NetworkFunc {
	if n == nil || !substitute {
		return nil
	}
	return n.Open
}

// enabled: n is a network cache.
func (n *Network) enabled() bool { return n != nil && n.Open != nil }

// addFlags adds --no-substitute (help text noSubHelp) and the network's flags to c.
func (n *Network) addFlags(c *cobra.Command, noSubHelp string) {
	if !n.enabled() {
		return
	}
	c.Flags().Bool("no-substitute", false, noSubHelp)
	if n.AddFlags != nil {
		n.AddFlags(c)
	}
}
