package cmd

import (
	"fmt"

	"github.com/cosmos/cosmos-sdk/client/flags"
	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/buildcli"
	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/nodecli"
	"github.com/buildchain/buildchain/node/p2p/p2pcli"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/storecli"
)

// extraCommands returns the command trees of the node-side packages: the store (with
// `store fetch` from peers), drv/build/profile/bootstrap, and the sidecar with the
// publisher and user flows (node run|status, publish, verify, install).
func extraCommands() []*cobra.Command {
	store := storecli.NewCmd()
	store.AddCommand(p2pcli.NewFetchCmd(nodecli.StoreFetchEnv))

	// `build` consults the chain's verified outputs first (the build cache itself).
	buildcli.SetSubstituter(buildWithSubstitution, func(c *cobra.Command) {
		c.Flags().String(flags.FlagNode, "", "CometBFT RPC of a chain node asked for verified outputs (default from client.toml)")
		nodecli.AddSubstituteFlags(c)
	})
	cmds := append([]*cobra.Command{store}, buildcli.Commands()...)
	return append(cmds, nodecli.Commands()...)
}

// buildWithSubstitution adapts the sidecar's substituter to `build`. Without a reachable
// chain it still builds: the substituter then finds no verified output and builds locally.
func buildWithSubstitution(cmd *cobra.Command, s *storefs.Store, b *builder.Builder, drv cid.Cid, opts builder.Options) (*builder.Result, bool, error) {
	sub, closeSub, err := nodecli.Substituter(cmd, s)
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "no network cache (%v): building locally\n", err)
		res, err := b.Build(cmd.Context(), drv, opts)
		return res, false, err
	}
	defer closeSub()
	return nodecli.BuildWithSubstitution(cmd.Context(), b, drv, sub, opts)
}
