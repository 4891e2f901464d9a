package nodecli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cosmos/cosmos-sdk/client/flags"
	sdk "github.com/cosmos/cosmos-sdk/types"
	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/gobuild"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// claimsPerTx bounds a --publish batch: one tx carries this many MsgSubmitClaim (a tx's gas
// grows with each; a few dozen stay far below a block's).
const claimsPerTx = 40

// GoCmd returns `go build`: node/gobuild with the network cache (substitutes from peers for
// the steps the chain verified) and --publish (claims for the steps it built).
func GoCmd() *cobra.Command {
	c := &cobra.Command{Use: "go", Short: "Go builds through the store: every compile and link a cached, verifiable derivation"}
	build := &cobra.Command{
		Use:   "build [-o OUT] [-C DIR] [--publish] [--peer ADDR] [-- GO-BUILD-FLAGS] PACKAGES",
		Short: "go build -trimpath, each step a derivation: cached, substituted from peers when the chain verified it, or built in the sandbox",
		Long: `Runs the go toolchain's go command (imported with ` + "`bootstrap --toolchain go`" + `, done here if missing)
in the module with -trimpath and CGO_ENABLED=0; every compile, asm and link step is a derivation
(see node/gobuild). A step is taken from the local cache, else substituted (the chain at --node
holds a VALID claim for its derivation: the output is fetched from peers, every block
hash-checked), else built in the sandbox, as many at once as cores. The binary is byte-identical
to go build -trimpath with the same toolchain. A progress line shows steps done / cached /
substituted / built. --publish then claims every step that was not substituted and has no claim
of that output yet (--from signs; a few txs of up to 40 claims), serves their blocks to the
assigned builders and, with --wait, prints the claims' progress until every verdict.`,
		RunE: runGoBuild,
	}
	f := build.Flags()
	f.StringP("o", "o", "", "write the binary here (as go build -o)")
	f.StringP("dir", "C", "", "run in this directory (default: the current one)")
	f.Bool("publish", false, "submit claims for the steps this build did not substitute, and serve their blocks")
	f.Bool("no-substitute", false, "never ask the chain and peers: local cache or sandbox only")
	f.Bool("verbose", false, "print what the network cache does for every step")
	f.String("deposit", "", "--publish: deposit per claim (default: the chain's min_deposit)")
	f.Bool("wait", true, "--publish: serve blocks and print the claims' progress until every verdict")
	f.Duration("wait-timeout", 30*time.Minute, "--publish: stop waiting after this long")
	addStoreFlags(build)
	addBuildFlags(build)
	addP2PFlags(build, []string{"/ip4/0.0.0.0/tcp/0"}, true)
	// The SDK's tx flags but --output: its shorthand -o is go build's.
	txFlags := &cobra.Command{}
	flags.AddTxFlagsToCmd(txFlags)
	txFlags.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Name != flags.FlagOutput {
			f.AddFlag(fl)
		}
	})
	c.AddCommand(build)
	return c
}

func runGoBuild(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	publish, _ := f.GetBool("publish")
	noSub, _ := f.GetBool("no-substitute")
	verbose, _ := f.GetBool("verbose")
	stderr := cmd.ErrOrStderr()
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()

	var claims *chain.Claims
	if publish {
		// Fail before building when the claims could not be signed.
		var err error
		if claims, err = chainClaims(cmd, true); err != nil {
			return err
		}
	} else if !noSub {
		// The chain is only asked: an unreachable one means local builds only, said once.
		var err error
		if claims, err = reachableChain(ctx, cmd); err != nil {
			fmt.Fprintf(stderr, "no network cache (%v): local cache and sandbox only\n", err)
			claims = nil
		}
	}
	ro := runtimeOpts{Progress: io.Discard} // the steps' own output goes to their logs; a failed step's is shown by the go command
	if claims != nil {
		ro.Chain = claims.C
	}
	rt, err := openRuntime(cmd, ro)
	if err != nil {
		return err
	}
	defer rt.Close()
	tc, bb, err := goToolchain(ctx, rt, stderr)
	if err != nil {
		return err
	}
	dir, _ := f.GetString("dir")
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return err
		}
	}
	var goArgs []string
	if out, _ := f.GetString("o"); out != "" {
		abs, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		goArgs = append(goArgs, "-o", abs)
	}
	goArgs = append(goArgs, args...)

	cfg := gobuild.Config{Store: rt.Store(), Builder: rt.Builder(), Toolchain: tc, Bootstrap: bb, Dir: dir, Args: goArgs,
		Progress: stderr, Log: stderr}
	if claims != nil && !noSub {
		sub, err := rt.Substitution()
		if err != nil {
			return err
		}
		defer sub.Release()
		sub.Log = io.Discard
		if verbose {
			sub.Log = stderr
		}
		cfg.Substitute = sub.Substitute
	}
	start := time.Now()
	stats, err := gobuild.Run(ctx, cfg)
	if stats != nil {
		fmt.Fprintf(stderr, "\n%s in %s\n", stats.Line(), time.Since(start).Round(time.Millisecond))
		t := stats.Times
		fmt.Fprintf(stderr, "step time (summed over parallel steps): store add %s, chain+fetch %s, sandbox %s, copy out %s\n",
			t.Add.Round(time.Millisecond), t.Fetch.Round(time.Millisecond), t.Build.Round(time.Millisecond), t.Copy.Round(time.Millisecond))
	}
	if err != nil {
		if publish {
			fmt.Fprintln(stderr, "the build failed: nothing published")
		}
		return err
	}
	if !publish {
		return nil
	}
	node, err := rt.P2P()
	if err != nil {
		return err
	}
	return publishSteps(ctx, cmd, rt, node, claims, stats)
}

// reachableChain is the chain at --node, if it answers.
func reachableChain(ctx context.Context, cmd *cobra.Command) (*chain.Claims, error) {
	claims, err := chainClaims(cmd, false)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := claims.Query().Params(pctx, &claimstypes.QueryParamsRequest{}); err != nil {
		return nil, fmt.Errorf("chain not reachable: %w", err)
	}
	return claims, nil
}

// goToolchain returns the go toolchain and busybox of the store, importing them if missing.
func goToolchain(ctx context.Context, rt *runtime.Runtime, log io.Writer) (tc, bb cid.Cid, err error) {
	b := rt.Builder()
	tcs, err := b.Toolchains()
	if err != nil {
		return cid.Undef, cid.Undef, err
	}
	tc, ok := tcs["go"]
	if !ok {
		if tc, err = toolchain.Import(ctx, "go", storefs.CurrentUser(), &toolchain.Env{Store: rt.Store(), Builder: b, Log: log}); err != nil {
			return cid.Undef, cid.Undef, err
		}
	}
	if bb, err = b.Bootstrap(); err != nil {
		if bb, err = b.ImportBusybox(ctx, "", storefs.CurrentUser()); err != nil {
			return cid.Undef, cid.Undef, err
		}
	}
	return tc, bb, nil
}

// publishSteps claims the steps of a build that were not substituted and have no claim of
// their output yet, in as few txs as possible, and (with --wait) serves their blocks until
// every claim has its verdict.
func publishSteps(ctx context.Context, cmd *cobra.Command, rt *runtime.Runtime, node *p2p.Node, claims *chain.Claims, stats *gobuild.Stats) error {
	f := cmd.Flags()
	out := cmd.OutOrStdout()
	deposit, err := claimDeposit(ctx, claims, f)
	if err != nil {
		return err
	}
	var todo []chain.NewClaim
	var names []string
	seen := map[cid.Cid]bool{}
	skipped := 0
	for _, st := range stats.Steps {
		if st.Substituted || seen[st.Derivation] {
			continue
		}
		seen[st.Derivation] = true
		claimed, err := alreadyClaimed(ctx, claims, st.Derivation, st.Output)
		if err != nil {
			return err
		}
		if claimed {
			skipped++
			continue
		}
		d, err := rt.Builder().LoadDerivation(st.Derivation)
		if err != nil {
			return err
		}
		// Keep what builders will fetch from us alive while they do.
		for _, c := range append([]cid.Cid{st.Derivation, st.Output}, inputCIDs(d)...) {
			if err := rt.Store().Pin(storefs.CurrentUser(), "publish", c); err != nil {
				return fmt.Errorf("pin %s: %w", c, err)
			}
		}
		todo = append(todo, chain.NewClaim{Derivation: st.Derivation, Output: st.Output, System: d.System, Deposit: deposit})
		names = append(names, st.Tool+" "+st.ImportPath)
	}
	fmt.Fprintf(out, "publish: %d steps to claim, %d already claimed on chain\n", len(todo), skipped)
	if len(todo) == 0 {
		return nil
	}
	announceSteps(ctx, node, rt.Builder(), todo, claims.Validator())
	var ids []uint64
	for i := 0; i < len(todo); i += claimsPerTx {
		batch := todo[i:min(i+claimsPerTx, len(todo))]
		got, hash, err := claims.SubmitBatch(ctx, batch)
		if err != nil {
			return fmt.Errorf("submit %d claims (%d submitted before): %w", len(batch), len(ids), err)
		}
		fmt.Fprintf(out, "claims %d..%d submitted (%d steps, tx %s)\n", got[0], got[len(got)-1], len(batch), hash)
		ids = append(ids, got...)
	}
	if wait, _ := f.GetBool("wait"); !wait {
		fmt.Fprintln(out, "not waiting: keep a node serving these blocks (`node run`) until builders fetched them")
		return nil
	}
	timeout, _ := f.GetDuration("wait-timeout")
	wctx, wcancel := context.WithTimeout(ctx, timeout)
	defer wcancel()
	return waitClaims(wctx, claims, ids, names, out)
}

func claimDeposit(ctx context.Context, claims *chain.Claims, f interface {
	GetString(string) (string, error)
}) (sdk.Coin, error) {
	s, _ := f.GetString("deposit")
	if s != "" {
		c, err := sdk.ParseCoinNormalized(s)
		if err != nil {
			return sdk.Coin{}, fmt.Errorf("--deposit %q: %w", s, err)
		}
		return c, nil
	}
	p, err := claims.Query().Params(ctx, &claimstypes.QueryParamsRequest{})
	if err != nil {
		return sdk.Coin{}, fmt.Errorf("read claims params for the minimum deposit: %w", err)
	}
	return p.Params.MinDeposit, nil
}

// alreadyClaimed reports whether the chain holds a claim for drv that is VALID, or still
// open with the same output (anyone's: a second claim would only pay twice for the same check).
func alreadyClaimed(ctx context.Context, claims *chain.Claims, drv, out cid.Cid) (bool, error) {
	res, err := claims.Query().ClaimsByDerivation(ctx, &claimstypes.QueryClaimsByDerivationRequest{DerivationCid: drv.String()})
	if err != nil {
		return false, fmt.Errorf("claims of %s: %w", drv, err)
	}
	for _, c := range res.Claims {
		if c.Status == claimstypes.CLAIM_STATUS_VALID || (!terminal(c.Status) && c.OutputCid == out.String()) {
			return true, nil
		}
	}
	return false, nil
}

// announceSteps provides every claimed step's derivation, output and inputs (a few at once:
// hundreds of DHT provides one by one would take minutes). Peers connected directly fetch the
// blocks even without the records.
func announceSteps(ctx context.Context, node *p2p.Node, b *builder.Builder, cs []chain.NewClaim, addr string) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, c := range cs {
		d, err := b.LoadDerivation(c.Derivation)
		if err != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			announce(ctx, node, d, c.Derivation, c.Output, addr, io.Discard)
		}()
	}
	wg.Wait()
}

// waitClaims polls the claims until each has its verdict, printing a line when the counts
// change; it fails naming the steps whose claim did not end VALID.
func waitClaims(ctx context.Context, claims *chain.Claims, ids []uint64, names []string, w io.Writer) error {
	status := make([]claimstypes.ClaimStatus, len(ids))
	last := ""
	start := time.Now()
	for {
		counts := map[claimstypes.ClaimStatus]int{}
		done := 0
		for i, id := range ids {
			if !terminal(status[i]) {
				if c, err := claims.Claim(ctx, id); err == nil {
					status[i] = c.Status
				}
			}
			counts[status[i]]++
			if terminal(status[i]) {
				done++
			}
		}
		line := fmt.Sprintf("claims: %d valid, %d pending, %d disputed, %d expired, %d rejected",
			counts[claimstypes.CLAIM_STATUS_VALID], counts[claimstypes.CLAIM_STATUS_PENDING], counts[claimstypes.CLAIM_STATUS_DISPUTED],
			counts[claimstypes.CLAIM_STATUS_EXPIRED], counts[claimstypes.CLAIM_STATUS_REJECTED])
		if line != last {
			fmt.Fprintf(w, "%s (after %s)\n", line, time.Since(start).Round(100*time.Millisecond))
			last = line
		}
		if done == len(ids) {
			var bad []string
			for i, s := range status {
				if s != claimstypes.CLAIM_STATUS_VALID {
					bad = append(bad, fmt.Sprintf("%s (claim %d %s)", names[i], ids[i], s))
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("%d claims did not end VALID: %v", len(bad), bad)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d claims: %w (%s)", len(ids)-done, ctx.Err(), line)
		case <-time.After(time.Second):
		}
	}
}
