package runtime

import (
	"context"
	"errors"
	"fmt"

	cid "github.com/ipfs/go-cid"
	mc "github.com/multiformats/go-multicodec"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/p2p"
)

// Hold temp-pins cs (counted, see storefs.Store.TempPin) until release is
// called; release is idempotent. What is already local stays so while held.
func (r *Runtime) Hold(cs ...cid.Cid) (release func(), err error) {
	var held []cid.Cid
	release = func() {
		for _, c := range held {
			_ = r.store.ReleaseTempPin(c)
		}
		held = nil
	}
	for _, c := range cs {
		if err := r.store.TempPin(c); err != nil {
			release()
			return func() {}, err
		}
		held = append(held, c)
	}
	return release, nil
}

// Fetch makes root's closure local, from peers where needed (every block
// hash-checked), and holds it until release is called (lifecycle: the p2p
// host starts on first use). For a derivation it also fetches the store
// paths its inputs refer to at run time (builder.References: recorded, or
// found by scanning the inputs), which a build sees but the derivation's
// DAG does not name. Fetching and pinning run under the store's add lock,
// so a GC running meanwhile cannot sweep a block between its arrival and
// the pin. A failed fetch holds nothing.
func (r *Runtime) Fetch(ctx context.Context, root cid.Cid, progress func(done, total int)) (st p2p.FetchStats, release func(), err error) {
	n, err := r.P2P()
	if err != nil {
		return st, func() {}, err
	}
	var held []cid.Cid
	release = func() {
		for _, c := range held {
			_ = r.store.ReleaseTempPin(c)
		}
		held = nil
	}
	// fetch brings c's closure and holds c; the lock is held by the caller.
	fetch := func(c cid.Cid, progress func(done, total int)) error {
		s, err := n.FetchClosure(ctx, c, progress)
		st.Blocks += s.Blocks
		st.Fetched += s.Fetched
		st.FetchedBytes += s.FetchedBytes
		if err != nil {
			return err
		}
		if err := r.store.TempPin(c); err != nil {
			return err
		}
		held = append(held, c)
		return nil
	}
	err = r.store.WithAddLock(func() error {
		if err := fetch(root, progress); err != nil {
			return err
		}
		if mc.Code(root.Type()) != mc.DagJson {
			return nil
		}
		d, err := r.b.LoadDerivation(root)
		if err != nil {
			// A dag-json document that is not a derivation: its closure is all.
			if errors.Is(err, builder.ErrMissingDerivation) {
				return err
			}
			return nil
		}
		// The inputs came with root's closure; what they reference at run time is fetched here.
		var inputs []cid.Cid
		for _, in := range d.Inputs {
			if !in.IsRef() {
				inputs = append(inputs, in.CID)
			}
		}
		_, err = r.b.RuntimeClosure(ctx, inputs, func(c, referrer cid.Cid) error {
			if !referrer.Defined() {
				return nil
			}
			if err := fetch(c, nil); err != nil {
				return fmt.Errorf("fetch %s: %w", c, err)
			}
			return nil
		})
		return err
	})
	if err != nil {
		release()
		return st, func() {}, err
	}
	return st, release, nil
}

// Provide announces c in the DHT (the p2p host starts on first use).
func (r *Runtime) Provide(ctx context.Context, c cid.Cid) error {
	n, err := r.P2P()
	if err != nil {
		return err
	}
	return n.Provide(ctx, c)
}

// Announce gossips a signed build record.
func (r *Runtime) Announce(ctx context.Context, rec p2p.BuildRecord) (p2p.BuildRecord, error) {
	n, err := r.P2P()
	if err != nil {
		return rec, err
	}
	return n.Announce(ctx, rec)
}
