package p2p

import (
	"bufio"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/p2p/carstream"
)

// countingStore counts the raw (data) blocks read from it.
type countingStore struct {
	blockstore.Blockstore
	rawGets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if c.Type() == cid.Raw {
		s.rawGets.Add(1)
	}
	return s.Blockstore.Get(ctx, c)
}

// Three peers hold the closure: each streams a part of the data blocks
// (every leaf is read by exactly one of them) and the fetcher ends up with
// the whole closure, through closure streams alone.
func TestCARFetchThreePeersSplit(t *testing.T) {
	data := randomBytes(31, 2<<20)
	var servers []*Node
	var stores []*countingStore
	var root cid.Cid
	for range 3 {
		cs := &countingStore{Blockstore: newMemStore()}
		n := newTestNode(t, func(c *Config) { c.Blockstore = cs })
		root = importFile(t, cs, data, 4096, 16) // 512 leaves, 3 levels
		servers = append(servers, n)
		stores = append(stores, cs)
	}
	// Leaves the importer read back do not count.
	for _, cs := range stores {
		cs.rawGets.Store(0)
	}
	c := newTestNode(t)
	for _, s := range servers {
		connect(t, c, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := c.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	var reads []int64
	for _, cs := range stores {
		reads = append(reads, cs.rawGets.Load())
	}
	want := closure(t, servers[0].bstore, root)
	require.Equal(t, len(want), st.Blocks)
	require.Equal(t, len(want), st.Fetched)
	require.Empty(t, st.Dropped)
	require.Equal(t, data, readFileBytes(t, c.bstore, root))

	var leaves, total int64
	for _, k := range want {
		if k.Type() == cid.Raw {
			leaves++
		}
	}
	for i, n := range reads {
		require.Positive(t, n, "peer %d served no data blocks", i)
		total += n
	}
	require.Equal(t, leaves, total, "data blocks read once between the three peers")
}

// carLiar serves closure streams by hand from a real closure, lying once:
// badHash sends one data block with wrong bytes; extra sends a valid block
// that is not part of the DAG asked for.
func startCARLiar(t *testing.T, src blockstore.Blockstore, order []cid.Cid, kind string) (host.Host, blocks.Block) {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	stray := blocks.NewBlock(randomBytes(77, 1000))
	strayBlk, err := blocks.NewBlockWithCid(stray.RawData(), cid.NewCidV1(cid.Raw, stray.Cid().Hash()))
	require.NoError(t, err)
	h.SetStreamHandler(carstream.ProtocolID, func(s network.Stream) {
		defer s.Close()
		if _, err := bufio.NewReader(s).ReadBytes('\n'); err != nil {
			return
		}
		ctx := context.Background()
		_, _ = s.Write([]byte{carstream.StatusOK})
		w, err := storage.NewWritable(struct{ ioWriter }{s}, []cid.Cid{order[0]}, car.WriteAsCarV1(true))
		if err != nil {
			return
		}
		for i, c := range order {
			b, err := src.Get(ctx, c)
			if err != nil {
				return
			}
			data := b.RawData()
			if i == len(order)/2 {
				switch kind {
				case "badHash":
					data = append([]byte(nil), data...)
					data[0] ^= 0xff
				case "extra":
					_ = w.Put(ctx, strayBlk.Cid().KeyString(), strayBlk.RawData())
				}
			}
			if err := w.Put(ctx, c.KeyString(), data); err != nil {
				return
			}
		}
	})
	return h, strayBlk
}

type ioWriter interface{ Write([]byte) (int, error) }

// dfsOrder is the order a closure stream sends root's closure in.
func dfsOrder(t *testing.T, bs blockstore.Blockstore, root cid.Cid) []cid.Cid {
	t.Helper()
	var out []cid.Cid
	seen := map[cid.Cid]bool{}
	var visit func(c cid.Cid)
	visit = func(c cid.Cid) {
		if seen[c] {
			return
		}
		seen[c] = true
		out = append(out, c)
		b, err := bs.Get(context.Background(), c)
		require.NoError(t, err)
		links, err := Links(c, b.RawData())
		require.NoError(t, err)
		for _, l := range links {
			visit(l)
		}
	}
	visit(root)
	return out
}

// A peer whose closure stream carries a block failing its hash, or a block
// outside the DAG asked for, is named in the error and dropped; the block
// is never stored. An honest peer then serves the closure, and the liar is
// not asked again.
func TestCARFetchLyingPeer(t *testing.T) {
	for _, kind := range []string{"badHash", "extra"} {
		t.Run(kind, func(t *testing.T) {
			src := newMemStore()
			data := randomBytes(41, 300<<10)
			root := importFile(t, src, data, 4096, 16)
			order := dfsOrder(t, src, root)
			liar, stray := startCARLiar(t, src, order, kind)
			bad := order[len(order)/2]

			v := newTestNode(t)
			ctx := context.Background()
			require.NoError(t, v.Connect(ctx, peer.AddrInfo{ID: liar.ID(), Addrs: liar.Addrs()}))
			fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := v.Fetch(fctx, root, nil)
			cancel()
			require.ErrorIs(t, err, ErrBadPeer)
			require.ErrorContains(t, err, liar.ID().String())
			if kind == "badHash" {
				require.ErrorIs(t, err, carstream.ErrBadBlock)
				has, err := v.bstore.Has(ctx, bad)
				require.NoError(t, err)
				require.False(t, has, "the block that failed its hash was stored")
			} else {
				require.ErrorIs(t, err, carstream.ErrUnexpectedBlock)
			}
			has, err := v.bstore.Has(ctx, stray.Cid())
			require.NoError(t, err)
			require.False(t, has, "a block outside the DAG was stored")
			require.True(t, eventually(5*time.Second, func() bool {
				return v.host.Network().Connectedness(liar.ID()) != network.Connected
			}), "the liar is still connected")
			require.True(t, v.isBad(liar.ID()))

			honest := newTestNode(t)
			require.Equal(t, root, importFile(t, honest.bstore, data, 4096, 16))
			connect(t, v, honest)
			require.NoError(t, v.Connect(ctx, peer.AddrInfo{ID: liar.ID(), Addrs: liar.Addrs()}))
			fctx, cancel = context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			st, err := v.FetchClosure(fctx, root, nil)
			require.NoError(t, err)
			require.Empty(t, st.Dropped, "the liar was asked again")
			require.Equal(t, data, readFileBytes(t, v.bstore, root))
		})
	}
}

// A peer without the root answers "not found" at once: its part goes to a
// peer that has it.
func TestCARFetchPeerWithoutRoot(t *testing.T) {
	data := randomBytes(51, 200<<10)
	a := newTestNode(t)
	root := importFile(t, a.bstore, data, 4096, 16)
	empty := newTestNode(t)
	c := newTestNode(t)
	connect(t, c, empty)
	connect(t, c, a)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := c.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	require.Equal(t, len(closure(t, a.bstore, root)), st.Fetched)
	require.Equal(t, data, readFileBytes(t, c.bstore, root))
}
