package nodecli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"
	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/profile"
	"github.com/buildchain/buildchain/node/progress"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"

	"github.com/cosmos/cosmos-sdk/client/flags"
)

func parseCID(what, s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%s %q is not a CID: %w", what, s, err)
	}
	return c, nil
}

// terminal reports whether a claim's game is over.
func terminal(s claimstypes.ClaimStatus) bool {
	switch s {
	case claimstypes.CLAIM_STATUS_VALID, claimstypes.CLAIM_STATUS_EXPIRED, claimstypes.CLAIM_STATUS_REJECTED:
		return true
	}
	return false
}

// PublishCmd returns `publish DRV`.
func PublishCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "publish DRV-CID",
		Short: "Build a derivation (or take --claim-output), announce output and inputs to peers, and submit the claim",
		Long: `Builds DRV locally (a cached output is reused) unless --claim-output names an existing
output, adds and announces the resolved derivation, its inputs and the output
(DHT provider records and a signed gossip record), and submits the claim
"output is the build of the resolved derivation" with --deposit. With --wait
(the default) it keeps serving the blocks to the assigned builders and prints
every change of the claim until its verdict.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			drv, err := parseCID("derivation", args[0])
			if err != nil {
				return err
			}
			f := cmd.Flags()
			outFlag, _ := f.GetString("claim-output")
			depositStr, _ := f.GetString("deposit")
			wait, _ := f.GetBool("wait")
			waitTimeout, _ := f.GetDuration("wait-timeout")
			out := cmd.OutOrStdout()
			log := newLogger(cmd.ErrOrStderr(), false)

			claims, err := chainClaims(cmd, true)
			if err != nil {
				return err
			}
			var deposit sdk.Coin
			if depositStr == "" {
				p, err := claims.Query().Params(cmd.Context(), &claimstypes.QueryParamsRequest{})
				if err != nil {
					return fmt.Errorf("read claims params for the minimum deposit: %w", err)
				}
				deposit = p.Params.MinDeposit
			} else if deposit, err = sdk.ParseCoinNormalized(depositStr); err != nil {
				return fmt.Errorf("--deposit %q: %w", depositStr, err)
			}

			rt, err := openRuntime(cmd, runtimeOpts{Progress: cmd.ErrOrStderr(), Log: log, Chain: claims.C})
			if err != nil {
				return err
			}
			defer rt.Close()
			store, b := rt.Store(), rt.Builder()
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()

			var resolved, output cid.Cid
			if outFlag != "" {
				if output, err = parseCID("--claim-output", outFlag); err != nil {
					return err
				}
				if ok, err := store.HasBlock(output); err != nil || !ok {
					return fmt.Errorf("--claim-output %s is not in the local store (add it first): %v", output, err)
				}
				d, err := b.LoadDerivation(drv)
				if err != nil {
					return err
				}
				if !d.Resolved() {
					return fmt.Errorf("--claim-output needs a resolved derivation; %s has derivation inputs (build it once to resolve it)", drv)
				}
				resolved = drv
			} else {
				res, err := b.Build(ctx, drv, builder.Options{})
				if err != nil {
					return fmt.Errorf("build %s: %w", drv, err)
				}
				resolved, output = res.Resolved, res.Output
				how := fmt.Sprintf("built in %d ms", res.BuildTime.Milliseconds())
				if res.Cached {
					how = "cached"
				}
				fmt.Fprintf(out, "output %s (%s)\n", output, how)
			}
			d, err := b.LoadDerivation(resolved)
			if err != nil {
				return err
			}
			// Keep what builders will fetch from us alive while they do.
			for _, c := range append([]cid.Cid{resolved, output}, inputCIDs(d)...) {
				if err := store.Pin(storefs.CurrentUser(), "publish", c); err != nil {
					return fmt.Errorf("pin %s: %w", c, err)
				}
			}

			node, err := rt.P2P()
			if err != nil {
				return err
			}
			// The claim is blind: builders get the derivation and its inputs, but the
			// output is announced only once the claim is decided (x/claims/README.md
			// §Blind rounds).
			announce(ctx, node, d, resolved, cid.Undef, claims.Validator(), cmd.ErrOrStderr())

			id, hash, err := claims.Submit(ctx, resolved, output, d.System, deposit)
			if err != nil {
				return fmt.Errorf("submit claim: %w", err)
			}
			fmt.Fprintf(out, "claim %d submitted: derivation %s output %s, committed (tx %s)\n", id, resolved, output, hash)
			if !wait {
				fmt.Fprintln(out, "not waiting: keep `node run` going (it serves these blocks to the builders and reveals the output when the claim's reveal phase opens)")
				return nil
			}
			wctx, wcancel := context.WithTimeout(ctx, waitTimeout)
			defer wcancel()
			final, err := waitClaim(wctx, claims, id, out)
			if err != nil {
				return err
			}
			if final.Status != claimstypes.CLAIM_STATUS_VALID {
				return fmt.Errorf("claim %d ended %s", id, final.Status)
			}
			announceOutput(ctx, node, resolved, output, claims.Validator(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := c.Flags()
	f.String("claim-output", "", "claim this existing output CID instead of building")
	f.String("deposit", "", "deposit to lock (default: the chain's min_deposit)")
	f.Bool("wait", true, "serve blocks and print the claim's progress until its verdict")
	f.Duration("wait-timeout", 10*time.Minute, "stop waiting after this long")
	addStoreFlags(c)
	addBuildFlags(c)
	addP2PFlags(c, []string{"/ip4/0.0.0.0/tcp/0"}, true)
	flags.AddTxFlagsToCmd(c)
	return c
}

func inputCIDs(d *derivation.Derivation) []cid.Cid {
	var out []cid.Cid
	for _, in := range d.Inputs {
		if !in.IsRef() {
			out = append(out, in.CID)
		}
	}
	return out
}

// announce provides the roots builders need and, if out is defined, the
// output and the gossip build record (a blind claim's output waits for the
// verdict: announceOutput). Failures cost only discoverability (peers
// connected directly still get the blocks), so they are warnings.
func announce(ctx context.Context, n *p2p.Node, d *derivation.Derivation, drv, out cid.Cid, addr string, w io.Writer) {
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The DHT needs a peer in its table: give bootstrap and mDNS a moment.
	for wait := time.Now().Add(5 * time.Second); len(n.Peers()) == 0 && time.Now().Before(wait); {
		time.Sleep(100 * time.Millisecond)
	}
	roots := append([]cid.Cid{drv}, inputCIDs(d)...)
	if out.Defined() {
		roots = append(roots, out)
	}
	var failed []string
	var lastErr error
	for _, c := range roots {
		if err := n.Provide(actx, c); err != nil {
			failed, lastErr = append(failed, c.String()), err
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "warning: no DHT provider record for %d roots (%v); peers connected directly still get the blocks\n", len(failed), lastErr)
	}
	if !out.Defined() {
		return
	}
	if _, err := n.Announce(actx, p2p.BuildRecord{Derivation: drv, Output: out, Address: addr}); err != nil {
		fmt.Fprintf(w, "warning: announce build record: %v\n", err)
	}
}

// announceOutput provides a decided claim's output and gossips its build record.
func announceOutput(ctx context.Context, n *p2p.Node, drv, out cid.Cid, addr string, w io.Writer) {
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.Provide(actx, out); err != nil {
		fmt.Fprintf(w, "warning: no DHT provider record for %s (%v); peers connected directly still get the blocks\n", out, err)
	}
	if _, err := n.Announce(actx, p2p.BuildRecord{Derivation: drv, Output: out, Address: addr}); err != nil {
		fmt.Fprintf(w, "warning: announce build record: %v\n", err)
	}
}

// waitClaim polls the claim and prints each change until a verdict; it reveals
// a blind claim's output once the claim's reveal phase opens (chain.Claims.RevealDue).
// DISPUTED is printed and waited through (a market may still decide it).
func waitClaim(ctx context.Context, claims *chain.Claims, id uint64, w io.Writer) (claimstypes.Claim, error) {
	var last string
	start := time.Now()
	for {
		c, err := claims.Claim(ctx, id)
		if err == nil {
			revealDue(ctx, claims, c, w)
			line := fmt.Sprintf("%s round %d", c.Status, c.Round)
			if line != last {
				fmt.Fprintf(w, "claim %d: %s (after %s)\n", id, line, time.Since(start).Round(100*time.Millisecond))
				last = line
			}
			if terminal(c.Status) {
				return c, nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return c, fmt.Errorf("waiting for claim %d: %w (last error: %v)", id, ctx.Err(), err)
			}
			return c, fmt.Errorf("waiting for claim %d: %w (last status %s)", id, ctx.Err(), c.Status)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// VerifyCmd returns `verify DRV`.
func VerifyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "verify DRV-CID",
		Short: "Print the chain's verdict on a derivation and fetch its verified output from peers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			drv, err := parseCID("derivation", args[0])
			if err != nil {
				return err
			}
			noFetch, _ := cmd.Flags().GetBool("no-fetch")
			_, err = verifyAndFetch(cmd, drv, !noFetch, nil)
			return err
		},
	}
	c.Flags().Bool("no-fetch", false, "only print the verdict")
	addStoreFlags(c)
	addP2PFlags(c, []string{"/ip4/0.0.0.0/tcp/0"}, true)
	return c
}

// InstallCmd returns `install DRV`.
func InstallCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "install DRV-CID",
		Short: "Install the verified output of a derivation into the profile (fetched from peers if needed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			drv, err := parseCID("derivation", args[0])
			if err != nil {
				return err
			}
			user, _ := cmd.Flags().GetString("user")
			if user == "" {
				user = storefs.CurrentUser()
			}
			_, err = verifyAndFetch(cmd, drv, true, func(rt *runtime.Runtime, out cid.Cid) error {
				p, err := profile.Open(rt.Store(), rt.Home()+"/profiles", user, fusefs.ViewDir(rt.Store()))
				if err != nil {
					return err
				}
				gen, err := p.Install(cmd.Context(), out)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "installed %s into profile of %s: generation %d (%s)\n", out, user, gen, p.CurrentLink())
				if link, err := p.LinkUserHome(); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "%s/bin: its programs (they run where the store is mounted at %s)\n", link, fusefs.SystemDir)
				}
				return nil
			})
			return err
		},
	}
	c.Flags().String("user", "", "profile owner (default: the current user)")
	addStoreFlags(c)
	addP2PFlags(c, []string{"/ip4/0.0.0.0/tcp/0"}, true)
	return c
}

// errNotVerified: the chain has no verified output for the derivation.
var errNotVerified = errors.New("no verified output on chain")

// verifyAndFetch prints the verdict on drv (resolved through the chain's
// verified outputs of its dependencies) and, with fetch, makes the verified
// output local; then runs then(rt, output) while the output is held.
func verifyAndFetch(cmd *cobra.Command, drv cid.Cid, fetch bool, then func(*runtime.Runtime, cid.Cid) error) (cid.Cid, error) {
	out := cmd.OutOrStdout()
	log := newLogger(cmd.ErrOrStderr(), false)
	claims, err := chainClaims(cmd, false)
	if err != nil {
		return cid.Undef, err
	}
	rt, err := openRuntime(cmd, runtimeOpts{Log: log, Chain: claims.C})
	if err != nil {
		return cid.Undef, err
	}
	defer rt.Close()
	ctx := cmd.Context()
	ttl, _ := cmd.Flags().GetDuration(flagFetchTTL)
	var releases []func()
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	resolved, err := resolveViaChain(ctx, rt, claims, drv, func(c cid.Cid) error {
		fctx, cancel := context.WithTimeout(ctx, ttl)
		defer cancel()
		_, release, err := rt.Fetch(fctx, c, nil)
		releases = append(releases, release)
		return err
	})
	if err != nil {
		return cid.Undef, err
	}
	if !resolved.Equals(drv) {
		fmt.Fprintf(out, "resolved derivation: %s\n", resolved)
	}
	v, found, err := claims.VerifiedOutput(ctx, resolved)
	if err != nil {
		return cid.Undef, err
	}
	if !found {
		printClaims(ctx, claims, resolved, out)
		return cid.Undef, fmt.Errorf("%s: %w", resolved, errNotVerified)
	}
	output, err := parseCID("verified output", v.OutputCid)
	if err != nil {
		return cid.Undef, err
	}
	fmt.Fprintf(out, "VALID: %s builds to %s (claim %d, %d rounds, verified at height %d)\n", resolved, output, v.ClaimId, v.Rounds, v.VerifiedHeight)
	if !fetch {
		return output, nil
	}
	fctx, cancel := context.WithTimeout(ctx, ttl)
	defer cancel()
	bar := progress.New(cmd.ErrOrStderr(), "fetching "+progress.Abbrev(output.String()), 0, progress.Options{Label: "blocks"})
	st, release, err := rt.Fetch(fctx, output, bar.Func())
	if err != nil {
		bar.Stop()
		return cid.Undef, fmt.Errorf("fetch verified output %s: %w", output, err)
	}
	releases = append(releases, release)
	bar.Finish()
	fmt.Fprintf(out, "fetched %s: %s (every block hash-checked)\n", output, runtime.FetchSummary(st))
	if then != nil {
		return output, then(rt, output)
	}
	return output, nil
}

// revealDue reveals c if it is our blind claim waiting for that; a failure is printed and
// retried at the next poll (which reads the claim again first).
func revealDue(ctx context.Context, claims *chain.Claims, c claimstypes.Claim, w io.Writer) {
	sent, err := claims.RevealDue(ctx, c)
	switch {
	case err != nil:
		fmt.Fprintf(w, "warning: %v\n", err)
	case sent:
		fmt.Fprintf(w, "claim %d: output revealed (every round is committed)\n", c.Id)
	}
}

func printClaims(ctx context.Context, claims *chain.Claims, drv cid.Cid, w io.Writer) {
	res, err := claims.Query().ClaimsByDerivation(ctx, &claimstypes.QueryClaimsByDerivationRequest{DerivationCid: drv.String()})
	if err != nil || len(res.Claims) == 0 {
		fmt.Fprintf(w, "no claims about %s\n", drv)
		return
	}
	for _, c := range res.Claims {
		fmt.Fprintf(w, "claim %d: %s round %d, output %s, publisher %s\n", c.Id, c.Status, c.Round, c.OutputCid, c.Publisher)
	}
}

// resolveViaChain resolves drv's derivation inputs to the verified outputs
// the chain names for them (recursively), fetching derivation blocks that
// are not local with fetch. The result is the CID claims are made about.
func resolveViaChain(ctx context.Context, rt *runtime.Runtime, claims *chain.Claims, drv cid.Cid, fetch func(cid.Cid) error) (cid.Cid, error) {
	if ok, _ := rt.Store().HasBlock(drv); !ok {
		if err := fetch(drv); err != nil {
			return cid.Undef, fmt.Errorf("derivation %s is not local and could not be fetched: %w", drv, err)
		}
	}
	d, err := rt.Builder().LoadDerivation(drv)
	if err != nil {
		return cid.Undef, err
	}
	if d.Resolved() {
		return drv, nil
	}
	outputs := map[string]cid.Cid{}
	for _, ref := range d.Refs() {
		rc, err := resolveViaChain(ctx, rt, claims, ref.Drv, fetch)
		if err != nil {
			return cid.Undef, err
		}
		v, found, err := claims.VerifiedOutput(ctx, rc)
		if err != nil {
			return cid.Undef, err
		}
		if !found {
			return cid.Undef, fmt.Errorf("input %s (resolved %s) of %s: %w", ref.Drv, rc, drv, errNotVerified)
		}
		oc, err := parseCID("verified output", v.OutputCid)
		if err != nil {
			return cid.Undef, err
		}
		outputs[ref.String()] = oc
	}
	r, err := d.Resolve(outputs)
	if err != nil {
		return cid.Undef, err
	}
	return rt.Builder().AddDerivation(r)
}
