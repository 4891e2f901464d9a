package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/storefs"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// The retention rule of the outputs the sidecar reported (pinned under
// SidecarPins by Rebuild; docs/ARCHITECTURE.md §Node):
//
//   - while any claim of the derivation is open (PENDING, ASSIGNED,
//     REVEALING or DISPUTED) the output stays pinned: the other assigned builders and a
//     market's predictors may fetch it from this node;
//   - once every claim is decided, the output stays pinned for good if a
//     VALID claim names it (it is the chain's verified output: users
//     substitute it and this node serves it), and is unpinned otherwise (an
//     output the chain did not verify, or of an EXPIRED or REJECTED claim):
//     the next GC may sweep it.
//
// Rebuild records each (derivation, output) pair in the sidecar's retention
// file; Retain applies the rule to the recorded pairs and forgets the
// decided ones. A chain that cannot be asked changes nothing.

// ClaimsOfDerivation is the part of the chain the retention rule asks:
// chain.Claims implements it.
type ClaimsOfDerivation interface {
	ClaimsByDerivation(ctx context.Context, drv cid.Cid) ([]claimstypes.Claim, error)
}

// Keep is the retention rule for out, the output this node reported for a
// derivation whose claims are claims: keep says whether it stays pinned,
// decided whether the answer is final (no claim of it is open).
func Keep(out cid.Cid, claims []claimstypes.Claim) (keep, decided bool) {
	verified := false
	for _, c := range claims {
		switch {
		case !c.Status.IsFinal(): // PENDING, ASSIGNED, REVEALING, DISPUTED
			return true, false
		case c.Status == claimstypes.CLAIM_STATUS_VALID && c.OutputCid == out.String(): // a blind claim's once revealed
			verified = true
		}
	}
	return verified, true
}

// retained is one recorded output of the sidecar.
type retained struct {
	Drv string `json:"drv"`
	Out string `json:"out"`
}

// retention is the sidecar's retention file: the outputs Rebuild pinned
// whose claims were not all decided when last asked.
type retention struct {
	mu   sync.Mutex
	path string
}

func (rt *retention) load() ([]retained, error) {
	data, err := os.ReadFile(rt.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []retained
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("retention file %s: %w", rt.path, err)
	}
	return out, nil
}

func (rt *retention) save(rs []retained) error {
	if rs == nil {
		rs = []retained{}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Drv+rs[i].Out < rs[j].Drv+rs[j].Out })
	data, err := json.Marshal(rs)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(rt.path, data, 0o644)
}

// record adds (drv, out) unless it is recorded already.
func (rt *retention) record(drv, out cid.Cid) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rs, err := rt.load()
	if err != nil {
		return err
	}
	e := retained{Drv: drv.String(), Out: out.String()}
	for _, r := range rs {
		if r == e {
			return nil
		}
	}
	return rt.save(append(rs, e))
}

// RetainStats is what one Retain pass did.
type RetainStats struct {
	Open, Kept, Unpinned int
}

// Retain applies the retention rule to every output the sidecar recorded:
// an output whose claims are all decided is unpinned (SidecarPins) unless
// a VALID claim names it, and forgotten either way. Outputs whose claims
// cannot be read now stay as they are, to be asked again.
func (r *Runtime) Retain(ctx context.Context, claims ClaimsOfDerivation) (RetainStats, error) {
	var st RetainStats
	r.mu.Lock()
	rt := r.retention
	r.mu.Unlock()
	if rt == nil {
		return st, nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rs, err := rt.load()
	if err != nil {
		return st, err
	}
	var left []retained
	var errs []error
	for _, e := range rs {
		drv, err1 := cid.Decode(e.Drv)
		out, err2 := cid.Decode(e.Out)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("retention file %s: %w", rt.path, err))
			continue // a malformed entry is dropped
		}
		cs, err := claims.ClaimsByDerivation(ctx, drv)
		if err != nil {
			errs = append(errs, err)
			left = append(left, e)
			continue
		}
		keep, decided := Keep(out, cs)
		switch {
		case !decided:
			st.Open++
			left = append(left, e)
		case keep:
			st.Kept++
		default:
			if err := r.store.Unpin(storefs.CurrentUser(), SidecarPins, out); err != nil {
				errs = append(errs, err)
				left = append(left, e)
				continue
			}
			st.Unpinned++
		}
	}
	if len(left) != len(rs) {
		if err := rt.save(left); err != nil {
			errs = append(errs, err)
		}
	}
	return st, errors.Join(errs...)
}

// retainLoop runs Retain every interval until ctx ends.
func (r *Runtime) retainLoop(ctx context.Context, claims ClaimsOfDerivation, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if st, err := r.Retain(ctx, claims); err != nil {
			r.cfg.Log.Warn("retention of reported outputs", "err", err, "open", st.Open, "kept", st.Kept, "unpinned", st.Unpinned)
		} else if st.Kept+st.Unpinned > 0 {
			r.cfg.Log.Info("retention of reported outputs", "open", st.Open, "kept", st.Kept, "unpinned", st.Unpinned)
		}
	}
}
