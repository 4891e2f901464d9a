package nodecli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/hanwen/go-fuse/v2/fuse"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
)

const (
	flagStore    = "store"
	flagListen   = "p2p-listen"
	flagPeer     = "peer"
	flagMDNS     = "mdns"
	flagTrust    = "trust"
	flagP2PKey   = "p2p-key"
	flagFetchTTL = "fetch-timeout"
)

// addStoreFlags adds the flags every node command shares.
func addStoreFlags(c *cobra.Command) {
	c.Flags().String(flagStore, "", "store root (default $BUILDCHAIN_HOME/ipfs, else ~/.buildchain/ipfs)")
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

// bcHome is $BUILDCHAIN_HOME, else ~/.buildchain (as node/buildcli).
func bcHome() (string, error) {
	if h := os.Getenv("BUILDCHAIN_HOME"); h != "" {
		return h, nil
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no BUILDCHAIN_HOME and no home directory: %w", err)
	}
	return filepath.Join(u, ".buildchain"), nil
}

// storeRoot resolves --store; the buildchain home (builds, profiles) is its parent.
func storeRoot(cmd *cobra.Command) (string, error) {
	if cmd.Flags().Lookup(flagStore) != nil {
		if s, _ := cmd.Flags().GetString(flagStore); s != "" {
			return filepath.Abs(s)
		}
	}
	h, err := bcHome()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, "ipfs"), nil
}

// local is the store and builder of a command.
type local struct {
	root  string
	home  string
	store *storefs.Store
	b     *builder.Builder
	fuse  *fuse.Server
}

func openLocal(cmd *cobra.Command, log io.Writer) (*local, error) {
	root, err := storeRoot(cmd)
	if err != nil {
		return nil, err
	}
	s, err := storefs.Open(root)
	if err != nil {
		return nil, err
	}
	home := filepath.Dir(root)
	b, err := builder.New(s, builder.Config{StateDir: filepath.Join(home, "builds"), Log: log, Timeout: time.Hour,
		NixBuilt: nixBuilt(home)})
	if err != nil {
		s.Close()
		return nil, err
	}
	return &local{root: root, home: home, store: s, b: b}, nil
}

const fuseSuperMagic = 0x65735546

// mountFUSE mounts the store's verified read-only view (builds bind their
// inputs from it) unless something already is mounted there.
func (l *local) mountFUSE() error {
	var st unix.Statfs_t
	if unix.Statfs(l.store.MountDir(), &st) == nil && st.Type == fuseSuperMagic {
		return nil
	}
	if err := os.MkdirAll(l.store.MountDir(), 0o755); err != nil {
		return err
	}
	srv, err := fusefs.Mount(l.store, l.store.MountDir(), fusefs.Options{AllowOther: true})
	if err != nil {
		return err
	}
	l.fuse = srv
	return nil
}

func (l *local) Close() {
	if l.fuse != nil {
		_ = l.fuse.Unmount()
	}
	l.store.Close()
}

// startP2P starts a libp2p node over the store from the command's flags.
// keyFile "" means the --p2p-key flag, else a fresh identity.
func startP2P(ctx context.Context, cmd *cobra.Command, l *local, keyFile string, log *slog.Logger) (*p2p.Node, func(), error) {
	f := cmd.Flags()
	listen, _ := f.GetStringSlice(flagListen)
	peers, _ := f.GetStringSlice(flagPeer)
	mdns, _ := f.GetBool(flagMDNS)
	trust, _ := f.GetStringSlice(flagTrust)
	if k, _ := f.GetString(flagP2PKey); k != "" {
		keyFile = k
	}
	cleanup := func() {}
	if keyFile == "" {
		dir, err := os.MkdirTemp("", "buildchain-p2p-")
		if err != nil {
			return nil, nil, err
		}
		keyFile = filepath.Join(dir, "p2p.key")
		cleanup = func() { os.RemoveAll(dir) }
	}
	var trusted []peer.ID
	for _, t := range trust {
		id, err := peer.Decode(t)
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("--%s %q: %w", flagTrust, t, err)
		}
		trusted = append(trusted, id)
	}
	n, err := p2p.New(ctx, p2p.Config{
		KeyFile: keyFile, ListenAddrs: listen, Bootstrap: peers, EnableMDNS: mdns,
		Blockstore: l.store.Blockstore(), TrustedBuilders: trusted, Links: l.store.Walker().Children,
		Roots: func(context.Context) ([]cid.Cid, error) { return pinnedRoots(l.store) }, Logger: log,
	})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return n, func() { n.Close(); cleanup() }, nil
}

// pinnedRoots lists the store's pinned roots for reproviding.
func pinnedRoots(s *storefs.Store) ([]cid.Cid, error) {
	pins, err := s.ListPins()
	if err != nil {
		return nil, err
	}
	seen := map[cid.Cid]bool{}
	var out []cid.Cid
	for _, p := range pins {
		if p.CID.Defined() && !seen[p.CID] {
			seen[p.CID] = true
			out = append(out, p.CID)
		}
	}
	return out, nil
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
	return chain.NewClaims(c), nil
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	lvl := slog.LevelInfo
	if debug {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}
