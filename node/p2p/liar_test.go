package p2p

import (
	"context"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/block"
	"github.com/buildchain/buildchain/node/p2p/p2ptest"
)

// A peer that lies about a block's content: the block is rejected, neither
// the wanted CID nor the liar's bytes are stored, and the honest peer that
// joins later serves the real block.
func TestLyingPeerRejected(t *testing.T) {
	v := newTestNode(t)
	liar, lies := p2ptest.StartLiar(t)
	ctx := context.Background()
	require.NoError(t, v.Connect(ctx, peer.AddrInfo{ID: liar.ID(), Addrs: liar.Addrs()}))

	real := blocks.NewBlock(randomBytes(9, 4096)) // CIDv0 sha2-256
	want := cid.NewCidV1(cid.Raw, real.Cid().Hash())
	realBlk, err := blocks.NewBlockWithCid(real.RawData(), want)
	require.NoError(t, err)

	fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err = v.Fetch(fctx, want, nil)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Positive(t, lies.Load(), "the liar was never asked: the test proves nothing")

	has, err := v.bstore.Has(ctx, want)
	require.NoError(t, err)
	require.False(t, has, "a lied-about block was stored")
	lie := p2ptest.Lie(want)
	lieCid, err := want.Prefix().Sum(lie[:])
	require.NoError(t, err)
	has, err = v.bstore.Has(ctx, lieCid)
	require.NoError(t, err)
	require.False(t, has, "the liar's unrequested bytes were stored")

	// An honest peer joins: the same fetch now succeeds with the real bytes,
	// even though the liar is still connected and still lying.
	honest := newTestNode(t)
	require.NoError(t, honest.bstore.Put(ctx, realBlk))
	connect(t, v, honest)
	fctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, v.Fetch(fctx, want, nil))
	got, err := v.bstore.Get(ctx, want)
	require.NoError(t, err)
	require.Equal(t, real.RawData(), got.RawData())
}

// Our own check, below bitswap's: a block whose bytes do not match its CID
// (as a faulty exchange could hand us) is rejected before the blockstore.
func TestWalkRejectsMismatchedBlock(t *testing.T) {
	n := newTestNode(t)
	real := blocks.NewBlock(randomBytes(10, 512))
	c := cid.NewCidV1(cid.Raw, real.Cid().Hash())
	forged, err := blocks.NewBlockWithCid([]byte("forged bytes"), c)
	require.NoError(t, err)

	r := n.walkOne(context.Background(), walkTask{c: c, blk: forged})
	require.ErrorIs(t, r.err, block.ErrCorrupt)
	require.Nil(t, r.fetched, "a forged block was passed on for storing")

	ok, err := blocks.NewBlockWithCid(real.RawData(), c)
	require.NoError(t, err)
	r = n.walkOne(context.Background(), walkTask{c: c, blk: ok})
	require.NoError(t, r.err)
	require.Equal(t, ok, r.fetched)
}
