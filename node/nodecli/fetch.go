package nodecli

import (
	"context"
	"fmt"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/progress"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/storefs"
)

// FetchPins is the program name under which `store fetch` pins what it
// fetched (pins/per-user/{user}/fetch).
const FetchPins = "fetch"

// StoreFetchCmd returns `fetch CID` (under `store`): the closure of CID
// fetched from peers into the store of --store (else $BUILDCHAIN_HOME/ipfs)
// by the node runtime (runtime.Runtime.Fetch: every block hash-checked,
// GC-safe) and pinned for the current user (program FetchPins). The p2p
// host has a throw-away identity, so the command can run beside `node run`.
func StoreFetchCmd() *cobra.Command {
	var (
		peers   []string
		timeout time.Duration
		noMDNS  bool
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "fetch CID",
		Short: "Fetch a CID and everything it links to from peers, hash-checking every block",
		Long: `Fetch the whole closure of CID (all blocks reachable from it; for a
derivation also its inputs and what they refer to at run time) from peers
over bitswap and store it locally, pinned (program "fetch"). Peers come from
--peer, mDNS on the local network and DHT provider records. Every block is
hash-checked before it is stored; a peer sending wrong bytes is ignored.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := cid.Decode(args[0])
			if err != nil {
				return fmt.Errorf("bad CID %q: %w", args[0], err)
			}
			storeRoot, err := storeRoot(cmd)
			if err != nil {
				return err
			}
			rt, err := runtime.Open(runtime.Config{StoreRoot: storeRoot,
				// A one-shot command: an ephemeral port and identity, no reproviding.
				P2P: &p2p.Config{ListenAddrs: []string{"/ip4/0.0.0.0/tcp/0"}, Bootstrap: peers,
					EnableMDNS: !noMDNS, ReprovideInterval: -1}})
			if err != nil {
				return err
			}
			defer rt.Close()
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			node, err := rt.P2P()
			if err != nil {
				return err
			}
			if len(node.Peers()) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no peers connected yet: waiting for mDNS or DHT peers (give --peer; timeout %s)\n", timeout)
			}
			var bar *progress.Bar
			if !quiet {
				bar = progress.New(cmd.ErrOrStderr(), "fetching "+progress.Abbrev(root.String()), 0, progress.Options{Label: "blocks"})
			}
			start := time.Now()
			st, release, err := rt.Fetch(ctx, root, bar.Func())
			if err != nil {
				bar.Stop()
				return fmt.Errorf("store fetch %s: %w", root, err)
			}
			defer release()
			bar.Finish()
			// Pinned while still held: no GC can come between.
			if err := rt.Store().Pin(storefs.CurrentUser(), FetchPins, root); err != nil {
				return fmt.Errorf("store fetch %s: pin: %w", root, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "fetched %s: %d blocks, %d from peers (%s) in %s\n",
				root, st.Blocks, st.Fetched, progress.HumanBytes(st.FetchedBytes), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&peers, flagPeer, nil, "peers to dial, multiaddrs ending in /p2p/{peer id} (repeatable or comma-separated, as the node commands take them)")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "give up after this long (0: never)")
	f.BoolVar(&noMDNS, "no-mdns", false, "do not look for peers on the local network")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}
