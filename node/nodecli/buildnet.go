package nodecli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cosmos/cosmos-sdk/client/flags"
	sdk "github.com/cosmos/cosmos-sdk/types"
	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// The front ends that split a build into derivations (`go build`, `cargo build`) share their
// network side here: the chain asked for verified steps, the substitution from peers, and
// --publish, which claims the steps built here.

// addPublishFlags adds the network and --publish flags of a build front end (what names its
// steps: "steps", "units").
func addPublishFlags(build *cobra.Command, what string) {
	f := build.Flags()
	f.StringP("dir", "C", "", "run in this directory (default: the current one)")
	f.Bool("publish", false, "submit claims for the "+what+" this build did not substitute, and serve their blocks")
	f.Bool("no-substitute", false, "never ask the chain and peers: local cache or sandbox only")
	f.BoolP("verbose", "v", false, "print what the network cache does for every "+what[:len(what)-1])
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
}

// buildNetwork is a build front end's runtime with its network side (addPublishFlags).
type buildNetwork struct {
	rt         *runtime.Runtime
	claims     *chain.Claims // nil: no chain (local cache and sandbox only)
	sub        *runtime.Substitution
	publishing bool
	stderr     io.Writer
	what       string // what the steps are called: "steps", "units"
	// tcs and bb are the store roots of the build's toolchains and busybox; dir is where it
	// runs (-C, else the current directory).
	tcs map[string]cid.Cid
	bb  cid.Cid
	dir string
}

// openBuildNetwork opens the runtime of the command's store with the named toolchains
// (imported if missing). With --publish the chain must sign (checked before building); else
// the chain at --node is only asked, and an unreachable one means local builds only, said once.
func openBuildNetwork(ctx context.Context, cmd *cobra.Command, what string, toolchains ...string) (*buildNetwork, error) {
	n, err := openNetwork(ctx, cmd, what)
	if err != nil {
		return nil, err
	}
	if n.tcs, n.bb, err = buildToolchains(ctx, n.rt, n.stderr, toolchains...); err == nil {
		if n.dir, _ = cmd.Flags().GetString("dir"); n.dir == "" {
			n.dir, err = os.Getwd()
		}
	}
	if err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func openNetwork(ctx context.Context, cmd *cobra.Command, what string) (*buildNetwork, error) {
	f := cmd.Flags()
	n := &buildNetwork{stderr: cmd.ErrOrStderr(), what: what}
	n.publishing, _ = f.GetBool("publish")
	noSub, _ := f.GetBool("no-substitute")
	verbose, _ := f.GetBool("verbose")
	var err error
	if n.publishing {
		if n.claims, err = chainClaims(cmd, true); err != nil {
			return nil, err
		}
	} else if !noSub {
		if n.claims, err = reachableChain(ctx, cmd); err != nil {
			fmt.Fprintf(n.stderr, "no network cache (%v): local cache and sandbox only\n", err)
			n.claims = nil
		}
	}
	ro := runtimeOpts{Progress: io.Discard} // the steps' own output goes to their logs; a failed step's is shown by the front end
	if n.claims != nil {
		ro.Chain = n.claims.C
	}
	if n.rt, err = openRuntime(cmd, ro); err != nil {
		return nil, err
	}
	if n.claims != nil && !noSub {
		if n.sub, err = n.rt.Substitution(); err != nil {
			n.rt.Close()
			return nil, err
		}
		n.sub.Log = io.Discard
		if verbose {
			n.sub.Log = n.stderr
		}
	}
	return n, nil
}

// substitute is builder.Options.Substitute through the network, nil without one.
func (n *buildNetwork) substitute() builder.SubstituteFunc {
	if n.sub == nil {
		return nil
	}
	return n.sub.Substitute
}

// failed says that a failed build published nothing.
func (n *buildNetwork) failed(err error) error {
	if n.publishing {
		fmt.Fprintln(n.stderr, "the build failed: nothing published")
	}
	return err
}

// publish claims the steps with --publish (publishSteps), else does nothing.
func (n *buildNetwork) publish(ctx context.Context, cmd *cobra.Command, steps []publishStep) error {
	if !n.publishing {
		return nil
	}
	node, err := n.rt.P2P()
	if err != nil {
		return err
	}
	return publishSteps(ctx, cmd, n.rt, node, n.claims, steps, n.what)
}

func (n *buildNetwork) Close() error {
	if n.sub != nil {
		n.sub.Release()
	}
	return n.rt.Close()
}

// buildToolchains returns the recorded store roots of the named toolchains and busybox,
// importing what this store does not have yet.
func buildToolchains(ctx context.Context, rt *runtime.Runtime, log io.Writer, names ...string) (map[string]cid.Cid, cid.Cid, error) {
	b := rt.Builder()
	tcs, err := b.Toolchains()
	if err != nil {
		return nil, cid.Undef, err
	}
	out := map[string]cid.Cid{}
	for _, name := range names {
		c, ok := tcs[name]
		if !ok {
			if c, err = toolchain.Import(ctx, name, storefs.CurrentUser(), &toolchain.Env{Store: rt.Store(), Builder: b, Log: log}); err != nil {
				return nil, cid.Undef, err
			}
		}
		out[name] = c
	}
	bb, err := b.Bootstrap()
	if err != nil {
		if bb, err = b.ImportBusybox(ctx, "", storefs.CurrentUser()); err != nil {
			return nil, cid.Undef, err
		}
	}
	return out, bb, nil
}

// claimsPerTx bounds a --publish batch: one tx carries this many MsgSubmitClaim (a tx's gas
// grows with each; a few dozen stay far below a block's).
const claimsPerTx = 40

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

// publishStep is one step (a go build step, a cargo unit) of a build as --publish sees it.
type publishStep struct {
	Name               string // for the claims' progress ("compile fmt", "serde 1.0.151 (lib)")
	Derivation, Output cid.Cid
	Substituted        bool // taken from the network: the chain verified it already
}

// publishSteps claims the steps of a build that were not substituted and have no claim of
// their output yet, in as few txs as possible, and (with --wait) serves their blocks until
// every claim has its verdict.
func publishSteps(ctx context.Context, cmd *cobra.Command, rt *runtime.Runtime, node *p2p.Node, claims *chain.Claims, steps []publishStep, what string) error {
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
	for _, st := range steps {
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
		names = append(names, st.Name)
	}
	fmt.Fprintf(out, "publish: %d %s to claim, %d already claimed on chain\n", len(todo), what, skipped)
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
		fmt.Fprintf(out, "claims %d..%d submitted (%d %s, tx %s)\n", got[0], got[len(got)-1], len(batch), what, hash)
		ids = append(ids, got...)
	}
	// The claims are blind: their outputs are announced once VALID.
	defer announceValid(ctx, node, claims, todo, ids)
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
		if c.Status == claimstypes.CLAIM_STATUS_VALID || (!terminal(c.Status) && claims.ClaimedOutput(c) == out.String()) {
			return true, nil
		}
	}
	return false, nil
}

// announceParallel is how many announcements run at once: hundreds of DHT provides one by
// one would take minutes, all at once would flood the routing table's peers.
const announceParallel = 8

// announceSteps provides every claimed step's derivation and inputs (a few at once:
// hundreds of DHT provides one by one would take minutes). Peers connected directly fetch the
// blocks even without the records.
func announceSteps(ctx context.Context, node *p2p.Node, b *builder.Builder, cs []chain.NewClaim, addr string) {
	var g errgroup.Group
	g.SetLimit(announceParallel)
	for _, c := range cs {
		d, err := b.LoadDerivation(c.Derivation)
		if err != nil {
			continue
		}
		g.Go(func() error {
			announce(ctx, node, d, c.Derivation, cid.Undef, addr, io.Discard) // outputs: once VALID
			return nil
		})
	}
	_ = g.Wait() // announcing is best effort: peers connected directly fetch without records
}

// announceValid provides the outputs of the claims that ended VALID and gossips their build
// records, a few at once (like announceSteps).
func announceValid(ctx context.Context, node *p2p.Node, claims *chain.Claims, cs []chain.NewClaim, ids []uint64) {
	var g errgroup.Group
	g.SetLimit(announceParallel)
	for i, c := range cs {
		if cl, err := claims.Claim(ctx, ids[i]); err != nil || cl.Status != claimstypes.CLAIM_STATUS_VALID {
			continue
		}
		g.Go(func() error {
			announceOutput(ctx, node, c.Derivation, c.Output, claims.Validator(), io.Discard)
			return nil
		})
	}
	_ = g.Wait() // best effort, like announceSteps
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
					revealDue(ctx, claims, c, w)
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
