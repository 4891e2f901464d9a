package storefs

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"

	"github.com/buildchain/buildchain/node/block"
)

// TestBlockstoreContract: what bitswap relies on. Get hash-checks, missing
// blocks are ipld.ErrNotFound, Put/PutMany refuse forged blocks (and
// PutMany stores nothing of a batch with one forged block).
func TestBlockstoreContract(t *testing.T) {
	s := openTemp(t)
	bs := s.Blockstore()
	ctx := context.Background()
	rawBlock := func(d string) blocks.Block {
		b, _ := blocks.NewBlockWithCid([]byte(d), cid.NewCidV1(cid.Raw, mustSum(t, []byte(d))))
		return b
	}
	good := rawBlock("a raw block")
	other := rawBlock("another raw block")
	// Bytes that hash right under a dag-pb CID but are not dag-pb: refused.
	if err := bs.Put(ctx, blocks.NewBlock([]byte("not protobuf"))); err == nil {
		t.Fatal("malformed dag-pb block accepted")
	}
	if ok, err := bs.Has(ctx, good.Cid()); err != nil || ok {
		t.Fatalf("has before put: %v %v", ok, err)
	}
	if _, err := bs.Get(ctx, good.Cid()); !ipld.IsNotFound(err) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := bs.GetSize(ctx, good.Cid()); !ipld.IsNotFound(err) {
		t.Fatalf("getsize missing: %v", err)
	}
	forged, _ := blocks.NewBlockWithCid([]byte("not it"), other.Cid())
	if err := bs.PutMany(ctx, []blocks.Block{good, forged}); !errors.Is(err, block.ErrCorrupt) {
		t.Fatalf("putmany with a forged block: %v", err)
	}
	if ok, _ := bs.Has(ctx, good.Cid()); ok {
		t.Fatal("putmany stored part of a bad batch")
	}
	if err := bs.PutMany(ctx, []blocks.Block{good, other}); err != nil {
		t.Fatal(err)
	}
	got, err := bs.Get(ctx, good.Cid())
	if err != nil || string(got.RawData()) != "a raw block" {
		t.Fatalf("get: %v", err)
	}
	if n, err := bs.GetSize(ctx, other.Cid()); err != nil || n != len("another raw block") {
		t.Fatalf("getsize: %d %v", n, err)
	}
	// A dag-json block (derivations) is stored like any other codec.
	dj := cid.NewCidV1(cid.DagJSON, mustSum(t, []byte(`{"a":1}`)))
	djb, _ := blocks.NewBlockWithCid([]byte(`{"a":1}`), dj)
	if err := bs.Put(ctx, djb); err != nil {
		t.Fatal(err)
	}
	keys, err := bs.AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range keys {
		n++
	}
	if n != 3 {
		t.Fatalf("AllKeysChan listed %d blocks, want 3", n)
	}
	// Identity CIDs are answered from the CID itself.
	id, _ := mh.Sum([]byte("inline"), mh.IDENTITY, -1)
	ic := cid.NewCidV1(cid.Raw, id)
	if b, err := bs.Get(ctx, ic); err != nil || string(b.RawData()) != "inline" {
		t.Fatalf("identity get: %v", err)
	}
	if err := bs.DeleteBlock(ctx, good.Cid()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := bs.Has(ctx, good.Cid()); ok {
		t.Fatal("deleted block still present")
	}
}

func mustSum(t *testing.T, b []byte) mh.Multihash {
	t.Helper()
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestVerifiedBatch: blocks put in a verified batch appear only at Commit,
// Abort leaves the store unchanged, only block.Checked blocks (not the zero
// value) are taken, and they are written without being hashed again. Every
// Put's written callback runs exactly once (the caller then reuses the
// buffer), whether the block was written, refused or already stored.
func TestVerifiedBatch(t *testing.T) {
	s := openTemp(t)
	bs := s.Blockstore().(*bstore)
	ctx := context.Background()
	var puts, written atomic.Int64
	done := func() func() {
		puts.Add(1)
		var once atomic.Bool
		return func() {
			if once.Swap(true) {
				t.Error("written called twice")
			}
			written.Add(1)
		}
	}
	checkWritten := func(when string) {
		t.Helper()
		if p, w := puts.Load(), written.Load(); p != w {
			t.Fatalf("%s: %d puts, %d written callbacks", when, p, w)
		}
	}
	mk := func(d string) block.Checked {
		data := []byte(d)
		b, err := block.Check(cid.NewCidV1(cid.Raw, mustSum(t, data)), data)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := mk("batch a"), mk("batch b"), mk("batch c")
	bt := bs.NewVerifiedBatch()
	for _, blk := range []block.Checked{a, b, a} {
		if err := bt.Put(ctx, blk, done()); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := bs.Has(ctx, a.Cid()); ok {
		t.Fatal("block visible before commit")
	}
	if err := bt.Commit(); err != nil {
		t.Fatal(err)
	}
	checkWritten("commit")
	for _, blk := range []block.Checked{a, b} {
		if got, err := bs.Get(ctx, blk.Cid()); err != nil || string(got.RawData()) != string(blk.RawData()) {
			t.Fatalf("after commit: %v", err)
		}
	}

	bt = bs.NewVerifiedBatch()
	if err := bt.Put(ctx, block.Checked{}, done()); err == nil {
		t.Fatal("the zero block.Checked was taken")
	}
	if err := bt.Put(ctx, c, done()); err != nil {
		t.Fatal(err)
	}
	if err := bt.Put(ctx, a, done()); err != nil { // already stored
		t.Fatal(err)
	}
	bt.Abort()
	checkWritten("abort")
	if ok, _ := bs.Has(ctx, c.Cid()); ok {
		t.Fatal("block of an aborted batch stored")
	}
	if ents, _ := os.ReadDir(s.tmpDir); len(ents) != 0 {
		t.Fatalf("aborted batch left %d temp files", len(ents))
	}

	// Not hashed again: bytes changed after Check (which callers must
	// never do) are written as given; reading them back fails as corrupt.
	d := mk("checked once")
	d.RawData()[0] ^= 1
	bt = bs.NewVerifiedBatch()
	if err := bt.Put(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	if err := bt.Commit(); err != nil {
		t.Fatalf("verified batch hashed its block again: %v", err)
	}
	if _, err := s.GetBlock(d.Cid()); !errors.Is(err, block.ErrCorrupt) {
		t.Fatalf("read of the modified block: %v", err)
	}
}

// TestPutManyForged: PutMany still refuses a forged block (and the
// whole call with it); a block.Checked is stored.
func TestPutManyForged(t *testing.T) {
	s := openTemp(t)
	bs := s.Blockstore()
	ctx := context.Background()
	data := []byte("real")
	forged, _ := blocks.NewBlockWithCid([]byte("forged"), cid.NewCidV1(cid.Raw, mustSum(t, data)))
	good, err := block.Check(cid.NewCidV1(cid.Raw, mustSum(t, []byte("good"))), []byte("good"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.PutMany(ctx, []blocks.Block{good, forged}); !errors.Is(err, block.ErrCorrupt) {
		t.Fatalf("PutMany with a forged block: %v", err)
	}
	if ok, _ := bs.Has(ctx, good.Cid()); ok {
		t.Fatal("PutMany stored part of a batch with a forged block")
	}
	if err := bs.PutMany(ctx, []blocks.Block{good}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := bs.Has(ctx, good.Cid()); !ok {
		t.Fatal("checked block not stored")
	}
}
