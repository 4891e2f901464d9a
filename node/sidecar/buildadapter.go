package sidecar

import (
	"context"
	"errors"
	"fmt"
	"time"

	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
)

// LocalBuilder adapts node/builder to the sidecar's Builder.
type LocalBuilder struct {
	B *builder.Builder
	// Fetch, if set, makes a store path's closure local (p2p). A build sees
	// its inputs plus the store paths they refer to at run time, which are
	// not part of the derivation's DAG: they are fetched here first.
	Fetch func(ctx context.Context, c cid.Cid) error
}

// fetchReferences fetches, recursively, the store paths the inputs of d
// refer to (builder.References: recorded, or found by scanning).
func (l LocalBuilder) fetchReferences(ctx context.Context, d *derivation.Derivation) error {
	if l.Fetch == nil {
		return nil
	}
	seen := map[cid.Cid]bool{}
	var visit func(c cid.Cid) error
	visit = func(c cid.Cid) error {
		if seen[c] {
			return nil
		}
		seen[c] = true
		refs, err := l.B.References(ctx, c)
		if err != nil {
			return fmt.Errorf("references of %s: %w", c, err)
		}
		for _, r := range refs {
			if seen[r] {
				continue
			}
			if err := l.Fetch(ctx, r); err != nil {
				return fmt.Errorf("fetch %s (referenced by %s): %w", r, c, err)
			}
			if err := visit(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, in := range d.Inputs {
		if !in.IsRef() {
			if err := visit(in.CID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Rebuild runs the build even when this node has a cached output for drv:
// with a cache entry it asks for a checked rebuild (one sandbox run) and
// takes the fresh output, whether or not it matches the cached one; without
// one a plain build is exactly one run.
func (l LocalBuilder) Rebuild(ctx context.Context, drv cid.Cid) (cid.Cid, time.Duration, error) {
	d, err := l.B.LoadDerivation(drv)
	if err != nil {
		return cid.Undef, 0, err
	}
	if err := l.fetchReferences(ctx, d); err != nil {
		return cid.Undef, 0, err
	}
	_, cached := l.B.CachedOutput(drv)
	if len(d.Refs()) > 0 {
		// An unresolved derivation: its dependencies are built (or reused)
		// first by the builder; the claim names resolved ones in practice.
		cached = false
	}
	res, err := l.B.Build(ctx, drv, builder.Options{Check: cached})
	if err != nil {
		if cached && errors.Is(err, builder.ErrNondeterministic) && res != nil && res.CheckOutput.Defined() {
			return res.CheckOutput, res.BuildTime, nil
		}
		return cid.Undef, 0, err
	}
	out := res.Output
	if cached && res.CheckOutput.Defined() {
		out = res.CheckOutput
	}
	return out, res.BuildTime, nil
}
