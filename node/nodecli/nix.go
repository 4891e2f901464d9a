package nodecli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/cosmos/cosmos-sdk/client/flags"
	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/nix/importer"
	"github.com/buildchain/buildchain/node/nix/nixcache"
	"github.com/buildchain/buildchain/node/nix/storepath"
	"github.com/buildchain/buildchain/node/storefs"
)

// NixCmd is `buildchaind nix`: import Nix derivations, serve verified outputs to Nix
// (docs/NIX.md).
func NixCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "nix",
		Short: "Build Nix derivations on buildchain and serve the verified outputs to Nix as a binary cache",
	}
	c.AddCommand(nixImportCmd(), nixServeCmd(), nixKeyCmd())
	return c
}

// nixDir is $BUILDCHAIN_HOME/nix (index, cache key, compressed NARs) of the store's home.
func nixDir(l *local) string { return filepath.Join(l.home, "nix") }

// nixBuilt indexes every Nix-layout output the node builds (a validator's rebuilds
// included), so `node run --nix-cache` serves what this node verified too.
func nixBuilt(home string) func(*derivation.Derivation, cid.Cid) error {
	return func(d *derivation.Derivation, resolved cid.Cid) error {
		idx, err := importer.OpenIndex(filepath.Join(home, "nix", "index"))
		if err != nil {
			return err
		}
		if e, err := idx.Get(storepath.HashPart(d.Nix.Out)); err == nil && e.DrvPath == d.Nix.DrvPath {
			return nil // imported here, or built before: keep the entry
		}
		return idx.Put(importer.Entry{Path: d.Nix.Out, DrvPath: d.Nix.DrvPath, Derivation: resolved.String()})
	}
}

func nixImportCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "import DRV_PATH",
		Short: "Record a Nix .drv and its input closure as buildchain derivations built in Nix's layout",
		Long: `Reads the .drv (Nix's ATerm; DRV_PATH is a /nix/store path, or the file of one in a
store under another root, e.g. ROOT/nix/store/...-hello.drv), its input derivations
recursively and its input sources, which are added to the store from their NAR after
checking that they hash to their store path. Each .drv becomes one buildchain derivation
that records the Nix store paths (its output's and every input's); it builds in the
sandbox in Nix's layout. Prints "DERIVATION-CID DRV-PATH OUT-PATH" per derivation,
dependencies first: publish them in that order.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, _ := cmd.Flags().GetString("nix-root")
			arg := args[0]
			dir := filepath.Join(root, storepath.Dir)
			if root == "" {
				abs, err := filepath.Abs(arg)
				if err != nil {
					return err
				}
				dir = filepath.Dir(abs)
			}
			drvPath := storepath.Dir + "/" + filepath.Base(arg)
			l, err := openLocal(cmd, io.Discard)
			if err != nil {
				return err
			}
			defer l.Close()
			idx, err := importer.OpenIndex(filepath.Join(nixDir(l), "index"))
			if err != nil {
				return err
			}
			im := importer.New(l.store, dir, idx, cmd.ErrOrStderr())
			im.PinUser, im.PinProg = storefs.CurrentUser(), "nix"
			done, err := im.Import(cmd.Context(), drvPath)
			if err != nil {
				return err
			}
			for _, d := range done {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s\n", d.Derivation, d.DrvPath, d.Out)
			}
			return nil
		},
	}
	c.Flags().String("nix-root", "", "the Nix store's root (nix --store ROOT): its paths are under ROOT/nix/store (default: DRV_PATH's directory)")
	addStoreFlags(c)
	return c
}

func nixKeyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "key",
		Short: "Print the cache's public key (created on first use) for Nix's trusted-public-keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := openLocal(cmd, io.Discard)
			if err != nil {
				return err
			}
			defer l.Close()
			name, _ := cmd.Flags().GetString("key-name")
			k, err := nixcache.LoadOrCreateKey(filepath.Join(nixDir(l), "cache.key"), name)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k.ToPublicKey().String())
			return nil
		},
	}
	c.Flags().String("key-name", defaultKeyName, "name of a new key (Nix shows it in signatures)")
	addStoreFlags(c)
	return c
}

const defaultKeyName = "buildchain-1"

func nixServeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve outputs the chain verified as a Nix HTTP binary cache",
		Long: `Answers Nix's binary cache protocol on --listen: nix-cache-info, {hash}.narinfo and
nar/ files, only for Nix paths imported here (nix import) whose derivation has a VALID
claim on the chain at --node (its inputs resolved through their verified outputs).
Outputs not in the local store are fetched from peers, hash-checked. The narinfo is
signed with the node's key (nix key prints it). Use it from Nix with
  --option substituters http://ADDR --option trusted-public-keys "$(buildchaind nix key)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			listen, _ := cmd.Flags().GetString("listen")
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			claims, err := chainClaims(cmd, false)
			if err != nil {
				return err
			}
			l, err := openLocal(cmd, io.Discard)
			if err != nil {
				return err
			}
			defer l.Close()
			log := newLogger(cmd.ErrOrStderr(), false)
			var (
				mu       sync.Mutex
				fetcher  func(context.Context, cid.Cid) error
				closeP2P = func() {}
			)
			defer func() { closeP2P() }()
			fetch := func(fctx context.Context, c cid.Cid) error {
				mu.Lock()
				if fetcher == nil {
					n, cl, err := startP2P(ctx, cmd, l, "", log)
					if err != nil {
						mu.Unlock()
						return err
					}
					closeP2P = cl
					fetcher = func(fctx context.Context, c cid.Cid) error { return n.Fetch(fctx, c, nil) }
				}
				f := fetcher
				mu.Unlock()
				return f(fctx, c)
			}
			return serveNixCache(ctx, cmd, l, claims, listen, fetch, log)
		},
	}
	f := c.Flags()
	f.String("listen", "127.0.0.1:5000", "HTTP listen address (port 0: any free port, printed)")
	addNixCacheFlags(c)
	addStoreFlags(c)
	addP2PFlags(c, []string{"/ip4/0.0.0.0/tcp/0"}, true)
	flags.AddQueryFlagsToCmd(c)
	return c
}

func addNixCacheFlags(c *cobra.Command) {
	f := c.Flags()
	f.String("nix-compression", "zstd", "compression of the NARs the narinfo names: zstd, xz or none")
	f.String("key-name", defaultKeyName, "name of the cache key if it is created now")
}

// serveNixCache runs the binary cache on listen until ctx ends; it prints the URL it serves.
func serveNixCache(ctx context.Context, cmd *cobra.Command, l *local, claims *chain.Claims, listen string, fetch func(context.Context, cid.Cid) error, log *slog.Logger) error {
	f := cmd.Flags()
	compression, _ := f.GetString("nix-compression")
	name, _ := f.GetString("key-name")
	key, err := nixcache.LoadOrCreateKey(filepath.Join(nixDir(l), "cache.key"), name)
	if err != nil {
		return err
	}
	idx, err := importer.OpenIndex(filepath.Join(nixDir(l), "index"))
	if err != nil {
		return err
	}
	srv, err := nixcache.New(nixcache.Config{Store: l.store, Index: idx, Key: key, Fetch: fetch,
		Verifier: chainVerifier{l: l, claims: claims, fetch: fetch}, CacheDir: filepath.Join(nixDir(l), "nar"),
		Compression: compression, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("nix cache: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(cmd.OutOrStdout(), "serving a Nix binary cache on http://%s (public key %s)\n", ln.Addr(), key.ToPublicKey())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// chainVerifier resolves an imported derivation through the chain's verified outputs of its
// inputs (as verify does) and returns the verified output of the result.
type chainVerifier struct {
	l      *local
	claims *chain.Claims
	fetch  func(context.Context, cid.Cid) error
}

func (v chainVerifier) VerifiedOutput(ctx context.Context, drv cid.Cid) (cid.Cid, bool, error) {
	resolved, err := resolveViaChain(ctx, v.l, v.claims, drv, func(c cid.Cid) error { return v.fetch(ctx, c) })
	if err != nil {
		if errors.Is(err, errNotVerified) {
			return cid.Undef, false, nil
		}
		return cid.Undef, false, err
	}
	res, found, err := v.claims.VerifiedOutput(ctx, resolved)
	if err != nil || !found {
		return cid.Undef, false, err
	}
	out, err := cid.Decode(res.OutputCid)
	if err != nil {
		return cid.Undef, false, fmt.Errorf("chain names a malformed output %q for %s: %w", res.OutputCid, resolved, err)
	}
	return out, true, nil
}
