package nodecli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/internal/saltfile"
	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/runtime"
)

const (
	flagStore    = "store"
	flagListen   = "p2p-listen"
	flagPeer     = "peer"
	flagMDNS     = "mdns"
	flagTrust    = "trust"
	flagP2PKey   = "p2p-key"
	flagFetchTTL = "fetch-timeout"
	flagBuildTTL = "build-timeout"
)

// addStoreFlags adds the flags every node command shares.
func addStoreFlags(c *cobra.Command) {
	c.Flags().String(flagStore, "", "store root (default $BUILDCHAIN_HOME/ipfs, else ~/.buildchain/ipfs)")
}

// addBuildFlags adds the flags of a command that builds derivations in the sandbox.
func addBuildFlags(c *cobra.Command) {
	c.Flags().Duration(flagBuildTTL, builder.DefaultTimeout, "wall-clock limit per sandboxed build (0: none)")
}

// addP2PFlags adds the peer-to-peer flags; listen is the default listen address.
func addP2PFlags(c *cobra.Command, listen []string, mdns bool) {
	f := c.Flags()
	f.StringSlice(flagListen, listen, "libp2p listen multiaddrs")
	f.StringSlice(flagPeer, nil, "peers to connect to (multiaddr ending in /p2p/ID; repeatable)")
	f.Bool(flagMDNS, mdns, "find peers on the local network with mDNS")
	f.StringSlice(flagTrust, nil, "trusted builder peer IDs for gossip records (repeatable)")
	f.String(flagP2PKey, "", "libp2p identity key file (default: a fresh identity for one-shot commands)")
	f.Duration(flagFetchTTL, 5*time.Minute, "give up fetching a closure from peers after this long")
}

// storeRoot resolves --store; the buildchain home (builds, profiles) is its parent.
func storeRoot(cmd *cobra.Command) (string, error) {
	if cmd.Flags().Lookup(flagStore) != nil {
		if s, _ := cmd.Flags().GetString(flagStore); s != "" {
			return filepath.Abs(s)
		}
	}
	h, err := runtime.DefaultHome()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, "ipfs"), nil
}

// runtimeOpts are what a command adds to its flags to open its runtime.
type runtimeOpts struct {
	// Progress receives the builder's and substitutions' progress lines.
	Progress io.Writer
	Log      *slog.Logger
	// KeyFile is the p2p identity unless --p2p-key names one; "" means a
	// fresh identity (one-shot commands can run beside `node run`).
	KeyFile string
	// Chain, if set, is the runtime's chain client.
	Chain *chain.Client
	FUSE  bool
}

// openRuntime opens the node runtime of a command: the store of --store,
// the builder beside it, and the p2p host of the command's p2p flags (if
// it has them; started on first use or by Start).
func openRuntime(cmd *cobra.Command, o runtimeOpts) (*runtime.Runtime, error) {
	root, err := storeRoot(cmd)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	pc, err := p2pConfig(cmd, o.KeyFile)
	if err != nil {
		return nil, err
	}
	var fetchTTL time.Duration
	if cmd.Flags().Lookup(flagFetchTTL) != nil {
		fetchTTL, _ = cmd.Flags().GetDuration(flagFetchTTL)
	}
	buildTTL := builder.DefaultTimeout
	if cmd.Flags().Lookup(flagBuildTTL) != nil {
		buildTTL, _ = cmd.Flags().GetDuration(flagBuildTTL)
	}
	return runtime.Open(runtime.Config{
		StoreRoot: root, Builder: builder.Config{Log: o.Progress, Timeout: buildTTL, NixBuilt: nixBuilt(filepath.Dir(root))},
		FUSE: o.FUSE, P2P: pc, Chain: o.Chain, FetchTimeout: fetchTTL, Log: o.Log, Progress: o.Progress,
	})
}

// p2pConfig reads the p2p flags of a command (nil if it has none). keyFile
// "" means the --p2p-key flag, else a fresh identity.
func p2pConfig(cmd *cobra.Command, keyFile string) (*p2p.Config, error) {
	f := cmd.Flags()
	if f.Lookup(flagListen) == nil {
		return nil, nil
	}
	listen, _ := f.GetStringSlice(flagListen)
	peers, _ := f.GetStringSlice(flagPeer)
	mdns, _ := f.GetBool(flagMDNS)
	trust, _ := f.GetStringSlice(flagTrust)
	if k, _ := f.GetString(flagP2PKey); k != "" {
		keyFile = k
	}
	var trusted []peer.ID
	for _, t := range trust {
		id, err := peer.Decode(t)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", flagTrust, t, err)
		}
		trusted = append(trusted, id)
	}
	return &p2p.Config{KeyFile: keyFile, ListenAddrs: listen, Bootstrap: peers, EnableMDNS: mdns,
		TrustedBuilders: trusted}, nil
}

// chainClaims builds the x/claims client from the command's client context.
// withKey requires --from (to sign).
func chainClaims(cmd *cobra.Command, withKey bool) (*chain.Claims, error) {
	var (
		cctx client.Context
		err  error
	)
	if withKey {
		cctx, err = client.GetClientTxContext(cmd)
	} else {
		cctx, err = client.GetClientQueryContext(cmd)
	}
	if err != nil {
		return nil, err
	}
	if withKey && cctx.FromAddress.Empty() {
		return nil, errors.New("no signing key: pass --from KEY (and --keyring-backend, --home)")
	}
	c, err := chain.New(cctx, nil)
	if err != nil {
		return nil, err
	}
	cl := chain.NewClaims(c)
	if withKey {
		// Claims this account submits are blind (x/claims/README.md §Blind rounds); their
		// salts live in the node home, where `node run`'s sidecar finds them too.
		dir, err := sidecarDir(cmd)
		if err != nil {
			return nil, err
		}
		salts, err := saltfile.Open(filepath.Join(dir, "published"))
		if err != nil {
			return nil, err
		}
		cl.SetSalts(salts)
	}
	return cl, nil
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	lvl := slog.LevelInfo
	if debug {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}
