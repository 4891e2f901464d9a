package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	cid "github.com/ipfs/go-cid"
	"golang.org/x/sys/unix"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
)

// Config of a Runtime. Only StoreRoot is required.
type Config struct {
	// StoreRoot is the store's root ($BUILDCHAIN_HOME/ipfs).
	StoreRoot string
	// Builder configures the builder; its StateDir defaults to "builds"
	// beside the store root ($BUILDCHAIN_HOME/builds).
	Builder builder.Config
	// FUSE mounts the store's verified read-only view at Store.MountDir
	// on Start (builds then bind their inputs from it), unless a FUSE file
	// system is mounted there already. A failed mount is logged, not fatal:
	// builds then use materialised inputs.
	FUSE bool
	// P2P configures the libp2p host; the runtime sets Blockstore, Links
	// (the store's closure walker) and, if nil, Roots (the store's pins, so
	// that whatever the node keeps it also reprovides). An empty KeyFile
	// means a fresh identity, removed on Close. Nil: no network.
	P2P *p2p.Config
	// Chain is the chain client; nil: no chain (no substitution, no
	// sidecar): a plain local cache.
	Chain *chain.Client
	// FetchTimeout bounds one closure fetch made for a build's
	// substitution (default 5 minutes).
	FetchTimeout time.Duration
	// Log receives the runtime's and the p2p host's logs (default: discard).
	Log *slog.Logger
	// Progress receives human progress lines of substitutions (default:
	// discard).
	Progress io.Writer
}

// Runtime is one node: see the package doc for its lifecycle. Safe for
// concurrent use.
type Runtime struct {
	cfg   Config
	home  string
	store *storefs.Store
	b     *builder.Builder

	ctx    context.Context // lives until Close: the p2p host's
	cancel context.CancelFunc

	mu      sync.Mutex
	node    *p2p.Node
	keyDir  string // a fresh identity's directory, removed on Close
	fuse    *fuse.Server
	started bool
	closed  bool
	closers []func() // run first on Close, last added first

	retention *retention // the sidecar's reported outputs (retain.go); nil: none
}

// ErrNoNetwork: an operation needs the p2p host but Config.P2P is nil.
var ErrNoNetwork = errors.New("runtime: no p2p network configured")

// ErrNoChain: an operation needs the chain but Config.Chain is nil.
var ErrNoChain = errors.New("runtime: no chain client configured")

// Open opens the store and the builder (lifecycle step 1).
func Open(cfg Config) (*Runtime, error) {
	if cfg.StoreRoot == "" {
		return nil, errors.New("runtime: empty store root")
	}
	root, err := filepath.Abs(cfg.StoreRoot)
	if err != nil {
		return nil, err
	}
	cfg.StoreRoot = root
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 5 * time.Minute
	}
	home := filepath.Dir(root)
	if cfg.Builder.StateDir == "" {
		cfg.Builder.StateDir = filepath.Join(home, "builds")
	}
	s, err := storefs.Open(root)
	if err != nil {
		return nil, err
	}
	b, err := builder.New(s, cfg.Builder)
	if err != nil {
		s.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runtime{cfg: cfg, home: home, store: s, b: b, ctx: ctx, cancel: cancel}, nil
}

// DefaultHome is the buildchain home of this user: $BUILDCHAIN_HOME, else
// ~/.buildchain. The store root is its "ipfs", the builder's state its
// "builds", profiles its "profiles".
func DefaultHome() (string, error) {
	if h := os.Getenv("BUILDCHAIN_HOME"); h != "" {
		return h, nil
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no BUILDCHAIN_HOME and no home directory: %w", err)
	}
	return filepath.Join(u, ".buildchain"), nil
}

// Store is the runtime's store.
func (r *Runtime) Store() *storefs.Store { return r.store }

// Builder is the runtime's builder.
func (r *Runtime) Builder() *builder.Builder { return r.b }

// Home is the directory holding the store root (builds, profiles).
func (r *Runtime) Home() string { return r.home }

// Chain is the chain client (nil without one).
func (r *Runtime) Chain() *chain.Client { return r.cfg.Chain }

// Start mounts the FUSE view and starts the p2p host, as configured
// (lifecycle step 2). Calling it again does nothing.
func (r *Runtime) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errors.New("runtime: closed")
	}
	if r.started {
		r.mu.Unlock()
		return nil
	}
	r.started = true
	if r.cfg.FUSE {
		if err := r.mountFUSE(); err != nil {
			r.cfg.Log.Warn("FUSE mount failed; builds use materialised inputs", "err", err)
		}
	}
	r.mu.Unlock()
	if r.cfg.P2P == nil {
		return nil
	}
	_, err := r.P2P()
	return err
}

const fuseSuperMagic = 0x65735546

// mountFUSE mounts the store's view unless something is mounted there; r.mu is held.
func (r *Runtime) mountFUSE() error {
	var st unix.Statfs_t
	if unix.Statfs(r.store.MountDir(), &st) == nil && st.Type == fuseSuperMagic {
		return nil
	}
	if err := os.MkdirAll(r.store.MountDir(), 0o755); err != nil {
		return err
	}
	srv, err := fusefs.Mount(r.store, r.store.MountDir(), fusefs.Options{AllowOther: true})
	if err != nil {
		return err
	}
	r.fuse = srv
	return nil
}

// P2P returns the p2p host, starting it on first use.
func (r *Runtime) P2P() (*p2p.Node, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.node != nil {
		return r.node, nil
	}
	if r.closed {
		return nil, errors.New("runtime: closed")
	}
	if r.cfg.P2P == nil {
		return nil, ErrNoNetwork
	}
	pc := *r.cfg.P2P
	if pc.KeyFile == "" {
		dir, err := os.MkdirTemp("", "buildchain-p2p-")
		if err != nil {
			return nil, err
		}
		r.keyDir = dir
		pc.KeyFile = filepath.Join(dir, "p2p.key")
	}
	pc.Blockstore = r.store.Blockstore()
	pc.Links = r.store.Walker().Children
	if pc.Roots == nil {
		pc.Roots = func(context.Context) ([]cid.Cid, error) { return PinnedRoots(r.store) }
	}
	if pc.Logger == nil {
		pc.Logger = r.cfg.Log
	}
	n, err := p2p.New(r.ctx, pc)
	if err != nil {
		return nil, err
	}
	r.node = n
	return n, nil
}

// onClose runs fn first when the runtime closes.
func (r *Runtime) onClose(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closers = append(r.closers, fn)
}

// PinnedRoots lists the CIDs of the store's live pins (users', auto and
// temp pins): what the node keeps, and so serves and reprovides.
func PinnedRoots(s *storefs.Store) ([]cid.Cid, error) {
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

// Close stops the p2p host, unmounts the FUSE view and closes the store
// (lifecycle step 4). A sidecar made by NewSidecar must have returned from
// Run first.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	node, srv, keyDir, closers := r.node, r.fuse, r.keyDir, r.closers
	r.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	var errs []error
	if node != nil {
		errs = append(errs, node.Close())
	}
	r.cancel()
	if keyDir != "" {
		_ = os.RemoveAll(keyDir)
	}
	if srv != nil {
		// Unmount waits for the kernel to end the FUSE session; a mount still
		// referenced from another mount namespace can delay that, so Close
		// never hangs on it: detach lazily after a while.
		done := make(chan error, 1)
		go func() { done <- srv.Unmount() }()
		select {
		case err := <-done:
			errs = append(errs, err)
		case <-time.After(10 * time.Second):
			errs = append(errs, unix.Unmount(r.store.MountDir(), unix.MNT_DETACH))
		}
	}
	errs = append(errs, r.store.Close())
	return errors.Join(errs...)
}
