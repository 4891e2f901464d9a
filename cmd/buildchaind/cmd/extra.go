package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/cosmos/cosmos-sdk/client/flags"
	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/buildcli"
	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/nodecli"
	"github.com/buildchain/buildchain/node/p2p/p2pcli"
	"github.com/buildchain/buildchain/node/progress"
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

// buildWithSubstitution adapts the sidecar's substitution to `build`. A derivation CID the
// local store lacks is fetched from peers first (a fresh node asks for it by CID alone).
// Without a reachable chain it still builds: the substitution then finds no verified
// output and builds locally.
func buildWithSubstitution(cmd *cobra.Command, s *storefs.Store, b *builder.Builder, drv cid.Cid, opts builder.Options) (*builder.Result, bool, error) {
	sub, closeSub, err := nodecli.NewSubstitution(cmd, s)
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "no network cache (%v): building locally\n", err)
		res, err := b.Build(cmd.Context(), drv, opts)
		return res, false, err
	}
	defer closeSub()
	if _, err := b.LoadDerivation(drv); errors.Is(err, builder.ErrMissingDerivation) {
		if err := fetchDerivation(cmd, s, sub, drv); err != nil {
			return nil, false, fmt.Errorf("derivation %s is not in the local store and could not be fetched from peers: %w", drv, err)
		}
	}
	return nodecli.BuildWithSubstitution(cmd.Context(), b, drv, sub.Substitute, opts)
}

// fetchDerivation brings drv (and the inputs it names) from peers and pins it as `drv add`
// does, under the store's add lock so a concurrent GC cannot sweep it before the pin.
func fetchDerivation(cmd *cobra.Command, s *storefs.Store, sub *nodecli.Substitution, drv cid.Cid) error {
	f, err := sub.Fetch()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if d, _ := cmd.Flags().GetDuration("fetch-timeout"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "fetching derivation %s from peers\n", drv)
	return s.WithAddLock(func() error {
		bar := progress.New(cmd.ErrOrStderr(), "fetching "+progress.Abbrev(drv.String()), 0, progress.Options{Label: "blocks"})
		if _, err := f.FetchClosure(ctx, drv, bar.Func()); err != nil {
			bar.Stop()
			return err
		}
		bar.Finish()
		return s.Pin(storefs.CurrentUser(), "derivations", drv)
	})
}
