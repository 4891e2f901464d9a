package runtime

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/sidecar"
	"github.com/buildchain/buildchain/node/storefs"
)

// SidecarPins is the program name under which the sidecar pins the outputs
// it reported (pins/per-user/{user}/sidecar): the node keeps serving and
// reproviding them to the other builders and to users.
const SidecarPins = "sidecar"

// The runtime is the sidecar's builder and network.
var (
	_ sidecar.Builder = (*Runtime)(nil)
	_ sidecar.Network = (*Runtime)(nil)
)

// Rebuild implements sidecar.Builder: it always runs the build, even when
// this node has a cached output for drv (then as a checked rebuild, one
// sandbox run, taking the fresh output whether or not it matches the
// cached one), and pins the output under SidecarPins.
func (r *Runtime) Rebuild(ctx context.Context, drv cid.Cid) (cid.Cid, time.Duration, error) {
	d, err := r.b.LoadDerivation(drv)
	if err != nil {
		return cid.Undef, 0, err
	}
	_, cached := r.b.CachedOutput(drv)
	if len(d.Refs()) > 0 {
		// An unresolved derivation: its dependencies are built (or reused)
		// first by the builder; the claim names resolved ones in practice.
		cached = false
	}
	res, err := r.b.Build(ctx, drv, builder.Options{Check: cached})
	var out cid.Cid
	switch {
	case err == nil && cached && res.CheckOutput.Defined():
		out = res.CheckOutput
	case err == nil:
		out = res.Output
	case cached && errors.Is(err, builder.ErrNondeterministic) && res != nil && res.CheckOutput.Defined():
		out = res.CheckOutput
	default:
		return cid.Undef, 0, err
	}
	// The build left the output temp-pinned (storefs.AddPath); pin it for
	// good, then drop that temp pin.
	if err := r.store.Pin(storefs.CurrentUser(), SidecarPins, out); err != nil {
		return cid.Undef, 0, err
	}
	_ = r.store.ReleaseTempPin(out)
	// Recorded after the pin: a crash in between leaves an output pinned
	// for good, never one recorded but unpinned.
	r.mu.Lock()
	rt := r.retention
	r.mu.Unlock()
	if rt != nil {
		if err := rt.record(drv, out); err != nil {
			return cid.Undef, 0, err
		}
	}
	return out, res.BuildTime, nil
}

// SidecarConfig is what NewSidecar needs besides the runtime.
type SidecarConfig struct {
	sidecar.Config
	// Source is where the sidecar reads the chain's blocks; nil: a
	// CometBFT websocket/RPC source on the chain client's node.
	Source sidecar.BlockSource
	// Claims is the sidecar's x/claims view; nil: node/chain over the
	// runtime's chain client.
	Claims sidecar.Claims
	// Markets, if set, makes the sidecar predict in markets.
	Markets sidecar.Markets
	// Retention is where the retention rule of the reported outputs
	// (retain.go) reads the claims of a derivation; nil: node/chain over the
	// runtime's chain client; without either, reported outputs stay pinned.
	Retention ClaimsOfDerivation
	// RetainEvery is the interval of the retention passes (default 1
	// minute). The retention file is retained.json beside StatePath.
	RetainEvery time.Duration
}

// NewSidecar wires a build validator's sidecar onto the runtime: the
// runtime builds, fetches (GC-safe, held until the report is sent) and
// announces (lifecycle step 3). The caller runs it; Close the runtime only
// after Run returned. A block source the runtime made is closed with it.
func (r *Runtime) NewSidecar(cfg SidecarConfig) (*sidecar.Sidecar, error) {
	claims := cfg.Claims
	if claims == nil {
		if r.cfg.Chain == nil {
			return nil, ErrNoChain
		}
		claims = chain.NewClaims(r.cfg.Chain)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = sidecar.NewMetrics()
	}
	if cfg.Log == nil {
		cfg.Log = r.cfg.Log
	}
	src := cfg.Source
	if src == nil {
		if r.cfg.Chain == nil {
			return nil, ErrNoChain
		}
		cs, err := sidecar.NewCometSource(r.cfg.Chain.Context().NodeURI, cfg.Log, cfg.Metrics.WSReconnects.Inc)
		if err != nil {
			return nil, err
		}
		r.onClose(func() { cs.Close() })
		src = cs
	}
	var network sidecar.Network
	if r.cfg.P2P != nil {
		network = r
	}
	sc, err := sidecar.New(cfg.Config, src, claims, r, network)
	if err != nil {
		return nil, err
	}
	r.startRetention(cfg)
	if cfg.Markets != nil {
		sc.SetMarkets(cfg.Markets)
	}
	return sc, nil
}

// startRetention starts the retention passes of the sidecar's reported
// outputs (retain.go), stopped on Close.
func (r *Runtime) startRetention(cfg SidecarConfig) {
	view := cfg.Retention
	if view == nil && r.cfg.Chain != nil {
		view = chain.NewClaims(r.cfg.Chain)
	}
	if view == nil || cfg.StatePath == "" {
		return
	}
	every := cfg.RetainEvery
	if every <= 0 {
		every = time.Minute
	}
	r.mu.Lock()
	r.retention = &retention{path: filepath.Join(filepath.Dir(cfg.StatePath), "retained.json")}
	r.mu.Unlock()
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.retainLoop(ctx, view, every)
	}()
	r.onClose(func() {
		cancel()
		<-done
	})
}
