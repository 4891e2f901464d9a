package cmd

import (
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/buildcli"
	"github.com/buildchain/buildchain/node/nodecli"
	"github.com/buildchain/buildchain/node/storefs/storecli"
)

// extraCommands returns the command trees of the node-side packages: the store (with
// `store fetch` from peers), drv/build/profile/bootstrap, and the sidecar with the
// publisher and user flows (node run|status, publish, verify, install).
func extraCommands() []*cobra.Command {
	store := storecli.NewCmd()
	store.AddCommand(nodecli.StoreFetchCmd())

	// `build` consults the chain's verified outputs first (the build cache itself).
	network := &buildcli.Network{Open: nodecli.Network, AddFlags: nodecli.AddSubstituteFlags}
	cmds := append([]*cobra.Command{store}, buildcli.Commands(network)...)
	return append(cmds, nodecli.Commands()...)
}
