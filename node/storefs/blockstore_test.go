package storefs

import (
	"context"
	"errors"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
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
	if err := bs.PutMany(ctx, []blocks.Block{good, forged}); !errors.Is(err, ErrCorrupt) {
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

// TestBatch: blocks put in a batch appear only at Commit; a forged block
// fails the whole batch at Commit and leaves the store unchanged.
func TestBatch(t *testing.T) {
	s := openTemp(t)
	bs := s.Blockstore().(*bstore)
	ctx := context.Background()
	mk := func(d string) blocks.Block {
		b, _ := blocks.NewBlockWithCid([]byte(d), cid.NewCidV1(cid.Raw, mustSum(t, []byte(d))))
		return b
	}
	a, b, c := mk("batch a"), mk("batch b"), mk("batch c")
	bt := bs.NewBatch()
	for _, blk := range []blocks.Block{a, b} {
		if err := bt.Put(ctx, blk); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := bs.Has(ctx, a.Cid()); ok {
		t.Fatal("block visible before commit")
	}
	if err := bt.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, blk := range []blocks.Block{a, b} {
		if got, err := bs.Get(ctx, blk.Cid()); err != nil || string(got.RawData()) != string(blk.RawData()) {
			t.Fatalf("after commit: %v", err)
		}
	}
	forged, _ := blocks.NewBlockWithCid([]byte("forged"), mk("real").Cid())
	bt = bs.NewBatch()
	_ = bt.Put(ctx, c)
	_ = bt.Put(ctx, forged)
	if err := bt.Commit(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("commit with a forged block: %v", err)
	}
	for _, k := range []cid.Cid{c.Cid(), forged.Cid()} {
		if ok, _ := bs.Has(ctx, k); ok {
			t.Fatalf("%s stored by a failed batch", k)
		}
	}
}
