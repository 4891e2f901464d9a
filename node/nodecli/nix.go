package nodecli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
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
	"github.com/buildchain/buildchain/node/runtime"
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
func nixDir(rt *runtime.Runtime) string { return filepath.Join(rt.Home(), "nix") }

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
			rt, err := openRuntime(cmd, runtimeOpts{})
			if err != nil {
				return err
			}
			defer rt.Close()
			idx, err := importer.OpenIndex(filepath.Join(nixDir(rt), "index"))
			if err != nil {
				return err
			}
			im := importer.New(rt.Store(), dir, idx, cmd.ErrOrStderr())
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
			rt, err := openRuntime(cmd, runtimeOpts{})
			if err != nil {
				return err
			}
			defer rt.Close()
			name, _ := cmd.Flags().GetString("key-name")
			k, err := nixcache.LoadOrCreateKey(filepath.Join(nixDir(rt), "cache.key"), name)
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
			log := newLogger(cmd.ErrOrStderr(), false)
			rt, err := openRuntime(cmd, runtimeOpts{Log: log, Chain: claims.C})
			if err != nil {
				return err
			}
			defer rt.Close()
			return serveNixCache(ctx, cmd, rt, claims, listen, log)
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

// nixFetch makes a verified output (or a derivation) local from peers, hash-checked, and pins
// it for the cache: it is served again later.
func nixFetch(rt *runtime.Runtime) func(context.Context, cid.Cid) error {
	return func(ctx context.Context, c cid.Cid) error {
		_, release, err := rt.Fetch(ctx, c, nil)
		defer release()
		if err != nil {
			return err
		}
		return rt.Store().Pin(storefs.CurrentUser(), "nix-cache", c)
	}
}

// serveNixCache runs the binary cache on listen until ctx ends; it prints the URL it serves.
func serveNixCache(ctx context.Context, cmd *cobra.Command, rt *runtime.Runtime, claims *chain.Claims, listen string, log *slog.Logger) error {
	fetch := nixFetch(rt)
	f := cmd.Flags()
	compression, _ := f.GetString("nix-compression")
	name, _ := f.GetString("key-name")
	key, err := nixcache.LoadOrCreateKey(filepath.Join(nixDir(rt), "cache.key"), name)
	if err != nil {
		return err
	}
	idx, err := importer.OpenIndex(filepath.Join(nixDir(rt), "index"))
	if err != nil {
		return err
	}
	srv, err := nixcache.New(nixcache.Config{Store: rt.Store(), Index: idx, Key: key, Fetch: fetch,
		Verifier: chainVerifier{rt: rt, claims: claims, fetch: fetch}, CacheDir: filepath.Join(nixDir(rt), "nar"),
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
	rt     *runtime.Runtime
	claims *chain.Claims
	fetch  func(context.Context, cid.Cid) error
}

func (v chainVerifier) VerifiedOutput(ctx context.Context, drv cid.Cid) (cid.Cid, bool, error) {
	resolved, err := resolveViaChain(ctx, v.rt, v.claims, drv, func(c cid.Cid) error { return v.fetch(ctx, c) })
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
