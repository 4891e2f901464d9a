package nodecli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/progress"
	"github.com/buildchain/buildchain/node/sidecar/chainclient"
	"github.com/buildchain/buildchain/node/storefs"
)

// SubstituteFunc is the builder's hook: given a resolved derivation, return
// an output to use instead of building (ok), or ok=false to build.
type SubstituteFunc = func(ctx context.Context, resolved cid.Cid, d *derivation.Derivation) (out cid.Cid, ok bool, err error)

// ChainQuerier is the part of the chain a substituter asks.
type ChainQuerier interface {
	VerifiedOutput(ctx context.Context, drv cid.Cid) (outputCID string, claimID uint64, found bool, err error)
}

// Fetcher fetches a closure from peers, hash-checking every block.
type Fetcher interface {
	FetchClosure(ctx context.Context, root cid.Cid, progress func(done, total int)) (p2p.FetchStats, error)
}

// Substitution is a substituter: for a resolved derivation the chain has a
// verified output of, fetch that output's closure from peers instead of
// building. It reports what it did to Log.
type Substitution struct {
	Chain ChainQuerier
	// Fetch returns the fetcher, started on first use (a build with nothing
	// to substitute never starts a p2p node).
	Fetch   func() (Fetcher, error)
	Timeout time.Duration
	Log     io.Writer
}

// Substitute implements SubstituteFunc. A chain that cannot be reached is
// not an error: the build goes on locally, as Nix does without a cache.
func (s *Substitution) Substitute(ctx context.Context, resolved cid.Cid, d *derivation.Derivation) (cid.Cid, bool, error) {
	outStr, claimID, found, err := s.Chain.VerifiedOutput(ctx, resolved)
	if err != nil {
		fmt.Fprintf(s.Log, "%s: cannot ask the chain for a verified output (%v); building locally\n", d.Name, err)
		return cid.Undef, false, nil
	}
	if !found {
		fmt.Fprintf(s.Log, "%s: no verified output of %s on chain; building locally\n", d.Name, resolved)
		return cid.Undef, false, nil
	}
	out, err := cid.Decode(outStr)
	if err != nil {
		return cid.Undef, false, fmt.Errorf("chain names a malformed verified output %q for %s: %w", outStr, resolved, err)
	}
	f, err := s.Fetch()
	if err != nil {
		return cid.Undef, false, err
	}
	t := s.Timeout
	if t <= 0 {
		t = 5 * time.Minute
	}
	fctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	bar := progress.New(s.Log, d.Name+": fetching "+progress.Abbrev(out.String()), 0, progress.Options{Label: "blocks"})
	st, err := f.FetchClosure(fctx, out, bar.Func())
	if err != nil {
		bar.Stop()
		fmt.Fprintf(s.Log, "%s: verified output %s could not be fetched (%v); building locally\n", d.Name, out, err)
		return cid.Undef, false, nil
	}
	bar.Finish()
	fmt.Fprintf(s.Log, "%s: substituted %s, verified on chain by claim %d (%s)\n", d.Name, out, claimID, fetchSummary(st))
	return out, true, nil
}

// chainQuerier adapts chainclient.Claims.
type chainQuerier struct{ c *chainclient.Claims }

func (q chainQuerier) VerifiedOutput(ctx context.Context, drv cid.Cid) (string, uint64, bool, error) {
	v, found, err := q.c.VerifiedOutput(ctx, drv)
	if err != nil || !found {
		return "", 0, found, err
	}
	return v.OutputCid, v.ClaimId, true, nil
}

// Substituter makes the substitution hook for `build` from the command's
// client context (--node) and p2p flags (if the command has them; else
// defaults: ephemeral port, mDNS). The returned close stops the p2p node.
func Substituter(cmd *cobra.Command, s *storefs.Store) (SubstituteFunc, func() error, error) {
	sub, closeFn, err := NewSubstitution(cmd, s)
	if err != nil {
		return nil, nil, err
	}
	return sub.Substitute, closeFn, nil
}

// NewSubstitution is Substituter's Substitution itself, for callers that also
// fetch other closures (e.g. a derivation the local store lacks) over the same
// lazily started p2p node. The returned close stops that node.
func NewSubstitution(cmd *cobra.Command, s *storefs.Store) (*Substitution, func() error, error) {
	claims, err := chainClaims(cmd, false)
	if err != nil {
		return nil, nil, err
	}
	var (
		mu      sync.Mutex
		node    *p2p.Node
		closeFn = func() {}
	)
	l := &local{store: s}
	fetch := func() (Fetcher, error) {
		mu.Lock()
		defer mu.Unlock()
		if node != nil {
			return node, nil
		}
		if cmd.Flags().Lookup(flagListen) == nil {
			addP2PFlags(cmd, []string{"/ip4/0.0.0.0/tcp/0"}, true)
		}
		n, c, err := startP2P(cmd.Context(), cmd, l, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return nil, err
		}
		node, closeFn = n, c
		return n, nil
	}
	sub := &Substitution{Chain: chainQuerier{claims}, Fetch: fetch, Log: cmd.ErrOrStderr()}
	return sub, func() error {
		mu.Lock()
		defer mu.Unlock()
		closeFn()
		return nil
	}, nil
}

// AddSubstituteFlags adds the p2p flags the substituter reads to `build`.
func AddSubstituteFlags(c *cobra.Command) {
	addP2PFlags(c, []string{"/ip4/0.0.0.0/tcp/0"}, true)
}

// NewChainQuerier adapts an x/claims client for Substitution.
func NewChainQuerier(c *chainclient.Claims) ChainQuerier { return chainQuerier{c} }

// BuildWithSubstitution is `build` with the network cache: dependencies
// first (each substituted or built), then the resolved derivation: a local
// cached output, else the chain's verified output fetched from peers
// (hash-checked), else a local build. substituted tells whether drv itself
// came from the network. sub may be nil (plain build).
func BuildWithSubstitution(ctx context.Context, b *builder.Builder, drv cid.Cid, sub SubstituteFunc, opts builder.Options) (res *builder.Result, substituted bool, err error) {
	if sub == nil || opts.Check {
		res, err := b.Build(ctx, drv, opts)
		return res, false, err
	}
	d, err := b.LoadDerivation(drv)
	if err != nil {
		return nil, false, err
	}
	outputs := map[string]cid.Cid{}
	for _, ref := range d.Refs() {
		r, _, err := BuildWithSubstitution(ctx, b, ref.Drv, sub, builder.Options{KeepFailed: opts.KeepFailed})
		if err != nil {
			return nil, false, fmt.Errorf("input %s of %s: %w", ref.Drv, d.Name, err)
		}
		outputs[ref.String()] = r.Output
	}
	resolved, err := d.Resolve(outputs)
	if err != nil {
		return nil, false, fmt.Errorf("resolve %s: %w", drv, err)
	}
	rc, err := b.AddDerivation(resolved)
	if err != nil {
		return nil, false, err
	}
	if out, ok := b.CachedOutput(rc); ok {
		return &builder.Result{Derivation: drv, Resolved: rc, Output: out, Cached: true}, false, nil
	}
	out, ok, err := sub(ctx, rc, resolved)
	if err != nil {
		return nil, false, err
	}
	if ok {
		return &builder.Result{Derivation: drv, Resolved: rc, Output: out}, true, nil
	}
	// rc is resolved: the builder builds exactly it.
	res, err = b.Build(ctx, rc, opts)
	if res != nil {
		res.Derivation = drv
	}
	return res, false, err
}
