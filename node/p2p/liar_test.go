package p2p

import (
	"context"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/block"
	"github.com/buildchain/buildchain/node/p2p/p2ptest"
)

// A peer that lies about a block's content over bitswap: the block is
// rejected, neither the wanted CID nor the liar's bytes are stored, the liar
// is named in the fetch's error, disconnected and refused when it dials
// again, and the honest peer that joins later serves the real block.
func TestLyingPeerRejected(t *testing.T) {
	v := newTestNode(t)
	liar, lies := p2ptest.StartLiar(t)
	ctx := context.Background()
	liarInfo := peer.AddrInfo{ID: liar.ID(), Addrs: liar.Addrs()}
	require.NoError(t, v.Connect(ctx, liarInfo))

	real := blocks.NewBlock(randomBytes(9, 4096)) // CIDv0 sha2-256
	want := cid.NewCidV1(cid.Raw, real.Cid().Hash())
	realBlk, err := blocks.NewBlockWithCid(real.RawData(), want)
	require.NoError(t, err)

	// The fetch runs until the liar is dropped (no deadline race: the
	// wait is for the drop, the cancel comes after it).
	fctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	var st FetchStats
	go func() {
		var err error
		st, err = v.FetchClosure(fctx, want, nil)
		errc <- err
	}()
	require.True(t, eventually(2*time.Minute, func() bool { return v.isBad(liar.ID()) }), "the liar was not dropped")
	cancel()
	err = <-errc
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, ErrBadPeer)
	require.ErrorContains(t, err, liar.ID().String())
	require.Len(t, st.Dropped, 1)
	require.ErrorContains(t, st.Dropped[0], liar.ID().String())
	require.Positive(t, lies.Load(), "the liar was never asked: the test proves nothing")
	require.NotEqual(t, network.Connected, v.host.Network().Connectedness(liar.ID()))
	require.Error(t, v.Connect(ctx, liarInfo), "a dropped peer was let back in")
	liar.Peerstore().AddAddrs(v.host.ID(), v.host.Addrs(), time.Hour)
	if err := liar.Connect(ctx, peer.AddrInfo{ID: v.host.ID(), Addrs: v.host.Addrs()}); err == nil {
		// The dialer may see its side of the connection before the
		// refusal reaches it; the node itself must not keep it.
		require.True(t, eventually(30*time.Second, func() bool {
			return v.host.Network().Connectedness(liar.ID()) != network.Connected
		}), "a dropped peer's dial was accepted")
	}

	has, err := v.bstore.Has(ctx, want)
	require.NoError(t, err)
	require.False(t, has, "a lied-about block was stored")
	lie := p2ptest.Lie(want)
	lieCid, err := want.Prefix().Sum(lie[:])
	require.NoError(t, err)
	has, err = v.bstore.Has(ctx, lieCid)
	require.NoError(t, err)
	require.False(t, has, "the liar's unrequested bytes were stored")

	// An honest peer joins: the same fetch now succeeds with the real bytes.
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
	chk, isChecked := r.fetched.(block.Checked)
	require.True(t, isChecked, "a fetched block goes to the store as a block.Checked")
	require.Equal(t, c, chk.Cid())
	require.Equal(t, real.RawData(), chk.RawData())
}
