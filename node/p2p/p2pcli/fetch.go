package p2pcli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/boxo/blockstore"
	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/progress"
)

// Env is what `store fetch` needs from the node's home.
type Env struct {
	// Blockstore receives the fetched closure (hash-checked on Put).
	Blockstore blockstore.Blockstore
	// Config is the base p2p configuration (KeyFile, Bootstrap, MDNS...).
	// Its Blockstore field is ignored in favour of Blockstore above. Empty
	// ListenAddrs mean an ephemeral TCP port, so a fetch can run beside a
	// running node; nil ExtraLinks mean p2p.DerivationLinks.
	Config p2p.Config
	// AfterFetch, if set, runs once the closure is local (e.g. to pin it).
	AfterFetch func(ctx context.Context, root cid.Cid) error
	// Guard, if set, runs the fetch and AfterFetch inside it, e.g.
	// storefs.Store.WithAddLock so a concurrent GC cannot sweep fetched
	// blocks before AfterFetch pins them.
	Guard func(fn func() error) error
	// Close releases the store.
	Close func() error
}

// OpenFunc opens the store and the node configuration for a command.
type OpenFunc func(cmd *cobra.Command) (*Env, error)

// NewFetchCmd returns `fetch CID`: pull the whole closure of CID from peers
// into the local store, with a progress bar on stderr.
func NewFetchCmd(open OpenFunc) *cobra.Command {
	var (
		peers   []string
		timeout time.Duration
		noMDNS  bool
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "fetch CID",
		Short: "Fetch a CID and everything it links to from peers, hash-checking every block",
		Long: `Fetch the whole closure of CID (all blocks reachable from it) from peers
over bitswap and store it locally. Peers come from the node's bootstrap list,
--peer, mDNS on the local network and DHT provider records. Every block is
hash-checked before it is stored; a peer sending wrong bytes is ignored.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := cid.Decode(args[0])
			if err != nil {
				return fmt.Errorf("bad CID %q: %w", args[0], err)
			}
			env, err := open(cmd)
			if err != nil {
				return err
			}
			if env.Close != nil {
				defer env.Close()
			}
			if env.Blockstore == nil {
				return errors.New("store fetch: no blockstore opened")
			}
			cfg := env.Config
			cfg.Blockstore = env.Blockstore
			cfg.Bootstrap = append(append([]string(nil), cfg.Bootstrap...), peers...)
			if len(cfg.ListenAddrs) == 0 {
				cfg.ListenAddrs = []string{"/ip4/0.0.0.0/tcp/0"}
			}
			if cfg.ExtraLinks == nil {
				// `store fetch DRV` brings the derivation's inputs too.
				cfg.ExtraLinks = p2p.DerivationLinks
			}
			if noMDNS {
				cfg.EnableMDNS = false
			}
			if cfg.ReprovideInterval == 0 {
				cfg.ReprovideInterval = -1 // a one-shot command does not reprovide
			}

			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			node, err := p2p.New(ctx, cfg)
			if err != nil {
				return err
			}
			defer node.Close()

			if len(node.Peers()) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no peers connected yet: waiting for mDNS or DHT peers (give bootstrap peers or --peer; timeout %s)\n", timeout)
			}
			var bar *progress.Bar
			if !quiet {
				bar = progress.New(cmd.ErrOrStderr(), "fetching "+progress.Abbrev(root.String()), 0, progress.Options{Label: "blocks"})
			}
			start := time.Now()
			var st p2p.FetchStats
			fetch := func() error {
				var err error
				st, err = node.FetchClosure(ctx, root, bar.Func())
				if err != nil {
					bar.Stop()
					return fmt.Errorf("store fetch %s: %w", root, err)
				}
				bar.Finish()
				if env.AfterFetch != nil {
					if err := env.AfterFetch(ctx, root); err != nil {
						return fmt.Errorf("store fetch %s: after fetch: %w", root, err)
					}
				}
				return nil
			}
			if env.Guard != nil {
				err = env.Guard(fetch)
			} else {
				err = fetch()
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "fetched %s: %d blocks, %d from peers (%s) in %s\n",
				root, st.Blocks, st.Fetched, progress.HumanBytes(st.FetchedBytes), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&peers, "peer", nil, "extra peers to dial, multiaddrs ending in /p2p/{peer id} (repeatable or comma-separated, as the node commands take them)")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "give up after this long (0: never)")
	f.BoolVar(&noMDNS, "no-mdns", false, "do not look for peers on the local network")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}
