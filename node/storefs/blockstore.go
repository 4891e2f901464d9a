package storefs

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/buildchain/buildchain/node/block"
)

// Blockstore returns the store as a boxo blockstore (for bitswap and CAR
// tools). Get hash-checks every block; Put and PutMany refuse a block whose
// bytes do not hash to its CID (PutMany does not hash a block.Checked again). Blocks put by a peer are unpinned until the
// caller pins them, so fetch under WithAddLock and pin before returning, or
// a concurrent GC may sweep them.
func (s *Store) Blockstore() blockstore.Blockstore { return &bstore{s: s} }

type bstore struct{ s *Store }

var _ blockstore.Blockstore = (*bstore)(nil)

func notFound(c cid.Cid, err error) error {
	if errors.Is(err, ErrNotFound) {
		return ipld.ErrNotFound{Cid: c}
	}
	return err
}

func (b *bstore) DeleteBlock(ctx context.Context, c cid.Cid) error {
	return b.s.deleteBlock(c)
}

func (b *bstore) Has(ctx context.Context, c cid.Cid) (bool, error) {
	return b.s.HasBlock(c)
}

func (b *bstore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	data, err := b.s.GetBlock(c)
	if err != nil {
		return nil, notFound(c, err)
	}
	return blocks.NewBlockWithCid(data, c)
}

// GetInto is Get for hot paths that reuse a buffer (a closure stream's
// server): it reads block c into buf when it fits (Store.ReadBlockInto) and
// returns its hash-checked bytes; a missing block gives ipld.ErrNotFound.
func (b *bstore) GetInto(ctx context.Context, c cid.Cid, buf []byte) ([]byte, error) {
	data, err := b.s.ReadBlockInto(c, buf)
	if err != nil {
		return nil, notFound(c, err)
	}
	return data, nil
}

func (b *bstore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if d, ok := identityData(c); ok {
		return len(d), nil
	}
	fi, err := os.Stat(b.s.BlockPath(c))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return -1, ipld.ErrNotFound{Cid: c}
		}
		return -1, fmt.Errorf("stat block %s: %w", c, err)
	}
	return int(fi.Size()), nil
}

func (b *bstore) Put(ctx context.Context, blk blocks.Block) error {
	return b.s.PutBlock(blk.Cid(), blk.RawData())
}

func (b *bstore) PutMany(ctx context.Context, blks []blocks.Block) error {
	for _, blk := range blks {
		if _, ok := blk.(block.Checked); ok && blk.Cid().Defined() {
			continue // hashed by block.Check already
		}
		if err := block.Verify(blk.Cid(), blk.RawData()); err != nil {
			return fmt.Errorf("put blocks: %w", err)
		}
	}
	w := b.s.newWriter()
	for _, blk := range blks {
		w.put(blk.Cid(), blk.RawData())
	}
	return w.commit()
}

func (b *bstore) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	all, err := b.s.AllBlocks()
	if err != nil {
		return nil, err
	}
	out := make(chan cid.Cid, 64)
	go func() {
		defer close(out)
		for _, c := range all {
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// VerifiedBatch is what NewVerifiedBatch returns. node/p2p declares the
// same interface type (an identical literal) so it needs no import of
// storefs.
type VerifiedBatch = interface {
	// Put schedules b; written, if not nil, is called once b's bytes are
	// no longer needed (written, or not to be written: a failure, a
	// duplicate), so the caller can reuse their buffer.
	Put(ctx context.Context, b block.Checked, written func()) error
	Commit() error
	Abort()
}

// NewVerifiedBatch returns a batch that stores many blocks as one unit, the
// way an add does: each Put is written to a temp file in the background
// (several in parallel), a background syncfs makes them durable every 64
// MiB, and Commit makes the whole batch durable and visible at once. Abort
// (or a failed Commit) leaves the store unchanged. It takes only
// block.Checked blocks, whose bytes the caller already hashed against their
// CID (a closure fetch checks every block as it arrives), and does not hash
// them again: one sha256 pass per received block instead of two. A closure
// fetch uses it instead of PutMany so that it pays one sync per 64 MiB
// instead of one per batch.
func (b *bstore) NewVerifiedBatch() VerifiedBatch {
	return &batch{w: b.s.newWriter()}
}

type batch struct{ w *writer }

func (bt *batch) Put(ctx context.Context, blk block.Checked, written func()) error {
	err := ctx.Err()
	if err == nil && !blk.Cid().Defined() {
		err = errors.New("put block: not a checked block (undefined CID)")
	}
	if err == nil {
		bt.w.mu.Lock()
		err = bt.w.err
		bt.w.mu.Unlock()
	}
	if err != nil {
		if written != nil {
			written()
		}
		return err
	}
	bt.w.putLinks(blk.Cid(), blk.RawData(), nil, false, written)
	return nil
}

func (bt *batch) Commit() error { return bt.w.commit() }

func (bt *batch) Abort() { bt.w.abort() }
