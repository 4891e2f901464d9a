package sidecar

import (
	"context"
	"errors"
	"time"

	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
)

// LocalBuilder adapts node/builder to the sidecar's Builder.
type LocalBuilder struct{ B *builder.Builder }

// Rebuild runs the build even when this node has a cached output for drv:
// with a cache entry it asks for a checked rebuild (one sandbox run) and
// takes the fresh output, whether or not it matches the cached one; without
// one a plain build is exactly one run.
func (l LocalBuilder) Rebuild(ctx context.Context, drv cid.Cid) (cid.Cid, time.Duration, error) {
	d, err := l.B.LoadDerivation(drv)
	if err != nil {
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
