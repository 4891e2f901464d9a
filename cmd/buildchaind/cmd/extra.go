package cmd

import (
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/buildcli"
	"github.com/buildchain/buildchain/node/storefs/storecli"
)

// extraCommands returns the command trees of the node-side packages (store, build, profile, node...)
// that work without a chain; the root command adds them beside the chain's own commands.
func extraCommands() []*cobra.Command {
	cmds := []*cobra.Command{storecli.NewCmd()}
	return append(cmds, buildcli.Commands()...)
}
