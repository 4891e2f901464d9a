package cmd

import (
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/buildcli"
	"github.com/buildchain/buildchain/node/nodecli"
	"github.com/buildchain/buildchain/node/p2p/p2pcli"
	"github.com/buildchain/buildchain/node/storefs/storecli"
)

// extraCommands returns the command trees of the node-side packages: the store (with
// `store fetch` from peers), drv/build/profile/bootstrap, and the sidecar with the
// publisher and user flows (node run|status, publish, verify, install).
func extraCommands() []*cobra.Command {
	store := storecli.NewCmd()
	store.AddCommand(p2pcli.NewFetchCmd(nodecli.StoreFetchEnv))

	// `build` consults the chain's verified outputs first (the build cache itself).
	buildcli.SetNetwork(nodecli.Network, nodecli.AddSubstituteFlags)
	cmds := append([]*cobra.Command{store}, buildcli.Commands()...)
	return append(cmds, nodecli.Commands()...)
}
