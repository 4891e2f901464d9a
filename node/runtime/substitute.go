package runtime

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/progress"
)

// ChainQuerier is the part of the chain a substitution asks.
type ChainQuerier interface {
	VerifiedOutput(ctx context.Context, drv cid.Cid) (outputCID string, claimID uint64, found bool, err error)
}

// NewChainQuerier adapts an x/claims client.
func NewChainQuerier(c *chain.Claims) ChainQuerier { return chainQuerier{c} }

type chainQuerier struct{ c *chain.Claims }

func (q chainQuerier) VerifiedOutput(ctx context.Context, drv cid.Cid) (string, uint64, bool, error) {
	v, found, err := q.c.VerifiedOutput(ctx, drv)
	if err != nil || !found {
		return "", 0, found, err
	}
	return v.OutputCid, v.ClaimId, true, nil
}

// FetchFunc fetches a closure, hash-checking every block, and holds it
// until release (Runtime.Fetch).
type FetchFunc func(ctx context.Context, root cid.Cid, progress func(done, total int)) (st p2p.FetchStats, release func(), err error)

// Substitution is the network cache of a build: for a resolved derivation
// the chain has a verified output of, it fetches that output's closure
// from peers instead of building. It reports what it did to Log.
type Substitution struct {
	Chain   ChainQuerier
	Fetch   FetchFunc
	Timeout time.Duration // per fetch; default 5 minutes
	Log     io.Writer

	mu   sync.Mutex
	held []func()
}

// Substitute is a builder.SubstituteFunc. A chain that cannot be reached is
// not an error: the build goes on locally, as Nix does without a cache.
// What it fetched stays held until Release.
func (s *Substitution) Substitute(ctx context.Context, resolved cid.Cid, d *derivation.Derivation) (cid.Cid, bool, error) {
	log := s.Log
	if log == nil {
		log = io.Discard
	}
	outStr, claimID, found, err := s.Chain.VerifiedOutput(ctx, resolved)
	if err != nil {
		fmt.Fprintf(log, "%s: cannot ask the chain for a verified output (%v); building locally\n", d.Name, err)
		return cid.Undef, false, nil
	}
	if !found {
		fmt.Fprintf(log, "%s: no verified output of %s on chain; building locally\n", d.Name, resolved)
		return cid.Undef, false, nil
	}
	out, err := cid.Decode(outStr)
	if err != nil {
		return cid.Undef, false, fmt.Errorf("chain names a malformed verified output %q for %s: %w", outStr, resolved, err)
	}
	t := s.Timeout
	if t <= 0 {
		t = 5 * time.Minute
	}
	fctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	bar := progress.New(log, d.Name+": fetching "+progress.Abbrev(out.String()), 0, progress.Options{Label: "blocks"})
	st, release, err := s.Fetch(fctx, out, bar.Func())
	if err != nil {
		bar.Stop()
		fmt.Fprintf(log, "%s: verified output %s could not be fetched (%v); building locally\n", d.Name, out, err)
		return cid.Undef, false, nil
	}
	s.mu.Lock()
	s.held = append(s.held, release)
	s.mu.Unlock()
	bar.Finish()
	fmt.Fprintf(log, "%s: substituted %s, verified on chain by claim %d (%s)\n", d.Name, out, claimID, FetchSummary(st))
	return out, true, nil
}

// Release drops the holds on everything Substitute fetched.
func (s *Substitution) Release() {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	for _, r := range held {
		r()
	}
}

// FetchSummary is the one-line account of a fetch the commands print.
func FetchSummary(st p2p.FetchStats) string {
	return fmt.Sprintf("%d blocks, %d from peers (%d bytes)", st.Blocks, st.Fetched, st.FetchedBytes)
}

// Substitution returns the runtime's network cache: the chain's verified
// outputs, fetched (and held) over the runtime's p2p host.
func (r *Runtime) Substitution() (*Substitution, error) {
	if r.cfg.Chain == nil {
		return nil, ErrNoChain
	}
	return &Substitution{Chain: NewChainQuerier(chain.NewClaims(r.cfg.Chain)), Fetch: r.Fetch,
		Timeout: r.cfg.FetchTimeout, Log: r.cfg.Progress}, nil
}

// Build builds drv. With substitute (and a chain), every derivation of the
// build that is not cached here is first looked up among the chain's
// verified outputs and fetched from peers instead of built (the builder's
// one recursion: builder.Options.Substitute). Fetched closures are held
// until the build ends; a substituted output of drv itself then stays
// temp-pinned for the caller, as a built one does (builder.Build).
func (r *Runtime) Build(ctx context.Context, drv cid.Cid, opts builder.Options, substitute bool) (*builder.Result, error) {
	if substitute && !opts.Check && r.cfg.Chain != nil && r.cfg.P2P != nil {
		sub, err := r.Substitution()
		if err != nil {
			return nil, err
		}
		defer sub.Release()
		opts.Substitute = sub.Substitute
	}
	res, err := r.b.Build(ctx, drv, opts)
	if err == nil && res.Substituted {
		if err := r.store.TempPin(res.Output); err != nil {
			return nil, err
		}
	}
	return res, err
}
