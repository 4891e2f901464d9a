package p2p

import (
	"context"
	"fmt"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// provideTimeout bounds one provider-record announcement.
const provideTimeout = 2 * time.Minute

// Provide announces in the DHT that this node holds root c, and remembers c
// for reproviding. Only roots the blockstore holds may be provided: a record
// for a block we cannot serve would send fetchers to a dead end.
//
// A nil error means the record was sent to the closest peers, not that any
// of them stored it: the DHT's ADD_PROVIDER message has no reply, so a lookup
// started right after Provide can still find nothing (NOTES.md). Fetches do
// not depend on it: bitswap keeps searching for providers.
func (n *Node) Provide(ctx context.Context, c cid.Cid) error {
	has, err := n.bstore.Has(ctx, c)
	if err != nil {
		return fmt.Errorf("p2p: provide %s: check blockstore: %w", c, err)
	}
	if !has {
		return fmt.Errorf("p2p: provide %s: block not in the local store", c)
	}
	n.mu.Lock()
	n.provided[c] = struct{}{}
	n.mu.Unlock()
	if err := n.dht.Provide(ctx, c, true); err != nil {
		return fmt.Errorf("p2p: provide %s: %w", c, err)
	}
	return nil
}

// FindProviders asks the DHT for up to max peers (other than this one) that
// announced c.
func (n *Node) FindProviders(ctx context.Context, c cid.Cid, max int) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for pi := range n.dht.FindProvidersAsync(ctx, c, max+1) {
		if pi.ID == n.host.ID() {
			continue
		}
		out = append(out, pi)
		if len(out) == max {
			break
		}
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("p2p: find providers of %s: %w", c, ctx.Err())
	}
	return out, nil
}

// connectProviders dials the DHT's providers of c in the background so that
// the bitswap session of a fetch can ask them; bitswap's own provider search
// only starts after a delay, and would then repeat this work per block.
func (n *Node) connectProviders(ctx context.Context, c cid.Cid) {
	for pi := range n.dht.FindProvidersAsync(ctx, c, 16) {
		if pi.ID == n.host.ID() || len(n.host.Network().ConnsToPeer(pi.ID)) > 0 {
			continue
		}
		if err := n.Connect(ctx, pi); err != nil {
			n.log.Debug("provider unreachable", "cid", c, "peer", pi.ID, "err", err)
		}
	}
}

// reprovideLoop re-announces every provided root and every root the store
// lists, at start (after a short settling delay) and then every interval.
func (n *Node) reprovideLoop(interval time.Duration) {
	defer n.wg.Done()
	first := time.NewTimer(5 * time.Second)
	defer first.Stop()
	select {
	case <-n.ctx.Done():
		return
	case <-first.C:
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n.Reprovide(n.ctx)
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reprovide announces all known roots now and returns how many succeeded.
func (n *Node) Reprovide(ctx context.Context) int {
	roots := n.providedRoots()
	if n.cfg.Roots != nil {
		more, err := n.cfg.Roots(ctx)
		if err != nil {
			n.log.Warn("list store roots for reproviding", "err", err)
		}
		seen := make(map[cid.Cid]struct{}, len(roots))
		for _, c := range roots {
			seen[c] = struct{}{}
		}
		for _, c := range more {
			if _, ok := seen[c]; !ok {
				roots = append(roots, c)
			}
		}
	}
	var ok int
	for _, c := range roots {
		if ctx.Err() != nil {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, provideTimeout)
		err := n.Provide(pctx, c)
		cancel()
		if err != nil {
			n.log.Warn("reprovide", "cid", c, "err", err)
			continue
		}
		ok++
	}
	return ok
}

func (n *Node) providedRoots() []cid.Cid {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]cid.Cid, 0, len(n.provided))
	for c := range n.provided {
		out = append(out, c)
	}
	return out
}
