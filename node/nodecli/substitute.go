package nodecli

import (
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/p2p"
)

// Network is buildcli.Network.Open for `build`: the chain client of the
// command's client context (--node) and the p2p host of its p2p flags
// (AddSubstituteFlags), a fresh identity, started only if something is
// substituted.
func Network(cmd *cobra.Command) (*chain.Client, *p2p.Config, error) {
	claims, err := chainClaims(cmd, false)
	if err != nil {
		return nil, nil, err
	}
	if cmd.Flags().Lookup(flagListen) == nil {
		addP2PFlags(cmd, []string{"/ip4/0.0.0.0/tcp/0"}, true)
	}
	pc, err := p2pConfig(cmd, "")
	if err != nil {
		return nil, nil, err
	}
	return claims.C, pc, nil
}

// AddSubstituteFlags adds the flags Network reads to `build`.
func AddSubstituteFlags(c *cobra.Command) {
	c.Flags().String(flags.FlagNode, "", "CometBFT RPC of a chain node asked for verified outputs (default from client.toml)")
	addP2PFlags(c, []string{"/ip4/0.0.0.0/tcp/0"}, true)
}
