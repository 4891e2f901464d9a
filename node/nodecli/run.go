package nodecli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/p2p/p2pcli"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/sidecar"
)

// NodeCmd returns `node` with `run`, `status` and `id`.
func NodeCmd() *cobra.Command {
	c := &cobra.Command{Use: "node", Short: "The build validator's sidecar: follow the chain, rebuild assignments, report"}
	c.AddCommand(runCmd(), statusCmd(), p2pcli.NewIDCmd(nodeKeyFile))
	return c
}

// nodeKeyFile is the libp2p identity `node run` uses, in the node home.
func nodeKeyFile(cmd *cobra.Command) (string, error) {
	dir, err := sidecarDir(cmd)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "p2p.key"), nil
}

// sidecarDir holds the sidecar's state and p2p identity in the node home.
func sidecarDir(cmd *cobra.Command) (string, error) {
	cctx, err := client.GetClientQueryContext(cmd)
	if err != nil {
		return "", err
	}
	home := cctx.HomeDir
	if home == "" {
		return "", fmt.Errorf("no node home (--%s)", flags.FlagHome)
	}
	return filepath.Join(home, "sidecar"), nil
}

func runCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the sidecar of the build validator --from: rebuild every assignment and report it",
		Long: `Follows the chain at --node height by height (websocket ticks, block results
read in order; resumes from the last handled height after a restart), and for
each assignment to the validator --from: fetches the derivation and its inputs
over p2p (hash-checked), rebuilds it in the sandbox, keeps the output, its
build time and a fresh salt, and sends MsgCommitBuild; once the claim is
REVEALING it sends MsgRevealBuild and only then announces the output
(x/claims/README.md §Blind rounds). It also reveals the blind claims this
account published. A (claim, round) is never answered twice, even across crashes. Prometheus metrics and a JSON
status are served on --metrics-addr; "node status" prints the state.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			workers, _ := f.GetInt("workers")
			metricsAddr, _ := f.GetString("metrics-addr")
			start, _ := f.GetInt64("start-height")
			poll, _ := f.GetDuration("poll")
			useFUSE, _ := f.GetBool("fuse")
			debug, _ := f.GetBool("debug")
			fetchTTL, _ := f.GetDuration(flagFetchTTL)
			log := newLogger(cmd.ErrOrStderr(), debug)

			dir, err := sidecarDir(cmd)
			if err != nil {
				return err
			}
			claims, err := chainClaims(cmd, true)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			keyFile, err := nodeKeyFile(cmd)
			if err != nil {
				return err
			}
			rt, err := openRuntime(cmd, runtimeOpts{Progress: &slogWriter{log}, Log: log,
				KeyFile: keyFile, Chain: claims.C, FUSE: useFUSE})
			if err != nil {
				return err
			}
			defer rt.Close()
			if err := rt.Start(ctx); err != nil {
				return err
			}
			node, err := rt.P2P()
			if err != nil {
				return err
			}
			log.Info("p2p node up", "id", node.ID(), "addrs", node.Addrs())

			scfg := runtime.SidecarConfig{Config: sidecar.Config{
				StatePath: filepath.Join(dir, "state.json"), Workers: workers, StartHeight: start,
				FetchTimeout: fetchTTL, Poll: poll, MetricsAddr: metricsAddr, Address: claims.Validator(),
				Log: log,
			}, Claims: claims}
			if noMarkets, _ := f.GetBool("no-markets"); !noMarkets {
				stakeStr, _ := f.GetString("market-stake")
				var stake sdk.Coin
				if stakeStr != "" {
					if stake, err = sdk.ParseCoinNormalized(stakeStr); err != nil {
						return fmt.Errorf("--market-stake %q: %w", stakeStr, err)
					}
				}
				if scfg.Markets, err = chain.NewMarkets(ctx, claims.C, stake); err != nil {
					return err
				}
			}
			sc, err := rt.NewSidecar(scfg)
			if err != nil {
				return err
			}
			if nixAddr, _ := f.GetString("nix-cache"); nixAddr != "" {
				// docs/NIX.md: this node's verified outputs as a Nix binary cache.
				go func() {
					if err := serveNixCache(ctx, cmd, rt, claims, nixAddr, log); err != nil {
						log.Error("nix cache stopped", "err", err)
					}
				}()
			}
			if err := writeInfo(dir, node, claims.Validator(), metricsAddr); err != nil {
				return err
			}
			return sc.Run(ctx)
		},
	}
	f := c.Flags()
	f.Int("workers", 2, "assignments handled at once (fetch + build + report)")
	f.String("metrics-addr", "127.0.0.1:26690", "serve Prometheus /metrics and JSON /status here (empty: off)")
	f.Int64("start-height", 1, "first height to read when the sidecar has no state yet (1: the node's earliest block, after a state sync the first after its snapshot)")
	f.Duration("poll", 2*time.Second, "poll the chain this often when websocket ticks are missing")
	f.Bool("fuse", true, "mount the store's FUSE view for builds (root or allow_other needed)")
	f.Bool("debug", false, "debug logs")
	f.Bool("no-markets", false, "do not rebuild disputed derivations and predict in their markets")
	f.String("market-stake", "", "stake per market prediction (default: the market quorum)")
	f.String("nix-cache", "", "also serve verified outputs as a Nix binary cache on this address (docs/NIX.md)")
	addNixCacheFlags(c)
	addStoreFlags(c)
	addBuildFlags(c)
	addP2PFlags(c, p2p.DefaultListenAddrs, true)
	flags.AddTxFlagsToCmd(c)
	return c
}

// info is written at start so `node status` can name the running node.
type info struct {
	Validator   string   `json:"validator"`
	PeerID      string   `json:"peer_id"`
	Addrs       []string `json:"addrs"`
	MetricsAddr string   `json:"metrics_addr,omitempty"`
	PID         int      `json:"pid"`
	Started     string   `json:"started"`
}

func writeInfo(dir string, n *p2p.Node, validator, metrics string) error {
	var addrs []string
	for _, a := range n.Addrs() {
		addrs = append(addrs, a.String())
	}
	data, err := json.MarshalIndent(info{Validator: validator, PeerID: n.ID().String(), Addrs: addrs,
		MetricsAddr: metrics, PID: os.Getpid(), Started: time.Now().UTC().Format(time.RFC3339)}, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "info.json"), data, 0o644)
}

func statusCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Print the sidecar's last handled height, builds in flight and reports sent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := sidecarDir(cmd)
			if err != nil {
				return err
			}
			path := filepath.Join(dir, "state.json")
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("no sidecar state at %s (has `node run` been started with this --home?)", path)
			}
			st, err := sidecar.OpenState(path)
			if err != nil {
				return err
			}
			var inf info
			if data, err := os.ReadFile(filepath.Join(dir, "info.json")); err == nil {
				_ = json.Unmarshal(data, &inf)
			}
			s := sidecar.StatusOf(st, inf.Validator)
			out := cmd.OutOrStdout()
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", " ")
				return enc.Encode(s)
			}
			running := "no"
			if inf.PID > 0 && syscall.Kill(inf.PID, 0) == nil {
				running = fmt.Sprintf("yes (pid %d)", inf.PID)
			}
			fmt.Fprintf(out, "validator:     %s\nrunning:       %s\npeer id:       %s\nlast height:   %d\nreports sent:  %d\nskipped:       %d\nfailed:        %d\nin flight:     %d\nmarkets:       %d (%d revealed)\n",
				s.Validator, running, inf.PeerID, s.LastHeight, s.ReportsSent, s.Skipped, len(s.Failed), len(s.InFlight),
				s.Markets, s.MarketsRevealed)
			if len(s.InFlight)+len(s.Failed) > 0 {
				tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CLAIM\tROUND\tSTATUS\tDERIVATION\tERROR")
				for _, j := range append(s.InFlight, s.Failed...) {
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", j.ClaimID, j.Round, j.Status, j.Derivation, j.Error)
				}
				tw.Flush()
			}
			return nil
		},
	}
	c.Flags().Bool("json", false, "print JSON")
	return c
}

// slogWriter sends the builder's progress lines to the structured log.
type slogWriter struct {
	log interface{ Info(string, ...any) }
}

func (w *slogWriter) Write(p []byte) (int, error) {
	w.log.Info("build", "line", string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
