package p2p

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/block"
	"github.com/buildchain/buildchain/node/p2p/carstream"
	"github.com/buildchain/buildchain/node/storefs"
)

// countingStore counts the blocks read from it.
type countingStore struct {
	blockstore.Blockstore
	rawGets, pbGets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if c.Type() == cid.Raw {
		s.rawGets.Add(1)
	} else {
		s.pbGets.Add(1)
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
	c, st := fetchFromAll(t, servers, root)
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
		links, err := block.Links(c, b.RawData())
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
			// The fetch waits for the block from someone else (bitswap):
			// end it once the liar is dropped, however long that takes.
			fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			go func() {
				for !v.isBad(liar.ID()) && fctx.Err() == nil {
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
			}()
			err := v.Fetch(fctx, root, nil)
			cancel()
			require.ErrorIs(t, err, ErrBadPeer)
			require.ErrorContains(t, err, liar.ID().String())
			if kind == "badHash" {
				require.ErrorIs(t, err, block.ErrCorrupt)
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
			require.Error(t, v.Connect(ctx, peer.AddrInfo{ID: liar.ID(), Addrs: liar.Addrs()}), "the dropped liar was let back in")
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

// A server whose own store has a corrupted block (bit rot) never sends it:
// its stream ends there, the fetcher stores what came before and does not
// take the server for a liar; the block stays missing until a healthy peer
// serves it.
func TestCARServerNeverSendsCorruptBlock(t *testing.T) {
	a, sa := newStorefsNode(t)
	data := randomBytes(61, 3<<20)
	ctx := context.Background()
	root, err := sa.AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
	require.NoError(t, err)
	cl, err := sa.Closure(root)
	require.NoError(t, err)
	var leaf cid.Cid
	for _, c := range cl {
		if c.Type() == cid.Raw {
			leaf = c
			break
		}
	}
	p := sa.BlockPath(leaf)
	require.NoError(t, os.Chmod(p, 0o644))
	require.NoError(t, os.WriteFile(p, []byte("rotten"), 0o444))

	b, sb := newStorefsNode(t)
	connect(t, b, a)
	fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = b.FetchClosure(fctx, root, nil)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrBadPeer)
	require.False(t, b.isBad(a.ID()))
	has, err := sb.HasBlock(leaf)
	require.NoError(t, err)
	require.False(t, has, "a corrupted block was stored")

	healthy, sh := newStorefsNode(t)
	r2, err := sh.AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
	require.NoError(t, err)
	require.Equal(t, root, r2)
	connect(t, b, healthy)
	fctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = b.FetchClosure(fctx, root, nil)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, sb.Cat(ctx, root, "", &out))
	require.Equal(t, data, out.Bytes())
}

// A directory of many multi-block files from three peers: each file's
// subtree is sent (and read) by one peer only.
func TestCARFetchThreePeersSplitDirectory(t *testing.T) {
	var servers []*Node
	var stores []*countingStore
	var root cid.Cid
	const files = 40
	for range 3 {
		cs := &countingStore{Blockstore: newMemStore()}
		n := newTestNode(t, func(c *Config) { c.Blockstore = cs })
		dag := merkledag.NewDAGService(blockservice.New(cs, nil))
		dir, err := uio.NewDirectory(dag, uio.WithCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256}))
		require.NoError(t, err)
		ctx := context.Background()
		for i := range files {
			fc := importFile(t, cs, randomBytes(uint64(100+i), 3000), 1024, 8) // 3 leaves under one node
			nd, err := dag.Get(ctx, fc)
			require.NoError(t, err)
			require.NoError(t, dir.AddChild(ctx, fmt.Sprintf("f%02d", i), nd))
		}
		nd, err := dir.GetNode()
		require.NoError(t, err)
		require.NoError(t, dag.Add(ctx, nd))
		root = nd.Cid()
		servers = append(servers, n)
		stores = append(stores, cs)
	}
	for _, cs := range stores {
		cs.rawGets.Store(0)
		cs.pbGets.Store(0)
	}
	c, st := fetchFromAll(t, servers, root)
	var raw, pb int64
	for i, cs := range stores {
		require.Positive(t, cs.pbGets.Load(), "peer %d served no files", i)
		raw += cs.rawGets.Load()
		pb += cs.pbGets.Load()
	}
	require.Equal(t, int64(files*3), raw, "each data block read once")
	require.Equal(t, int64(files+3), pb, "each file node read once, the root by each peer")
	want := closure(t, servers[0].bstore, root)
	require.Equal(t, len(want), st.Blocks)
	requireSameBlocks(t, servers[0].bstore, c.bstore, want)
}

// batchRecorder records the PutMany calls of a fetch.
type batchRecorder struct {
	blockstore.Blockstore
	calls, maxBytes atomic.Int64
}

func (r *batchRecorder) PutMany(ctx context.Context, bs []blocks.Block) error {
	var n int64
	for _, b := range bs {
		n += int64(len(b.RawData()))
	}
	r.calls.Add(1)
	if n > r.maxBytes.Load() {
		r.maxBytes.Store(n)
	}
	return r.Blockstore.PutMany(ctx, bs)
}

// Streaming does not buffer: the verified blocks waiting for the writer
// never exceed the budget, so a closure many times the budget is written
// in many small puts while it streams.
func TestCARFetchWithinBudget(t *testing.T) {
	old := carBudget
	carBudget = 1 << 20
	defer func() { carBudget = old }()
	a := newTestNode(t)
	data := randomBytes(71, 16<<20)
	root := importFile(t, a.bstore, data, 256<<10, 174)
	rec := &batchRecorder{Blockstore: newMemStore()}
	b := newTestNode(t, func(c *Config) { c.Blockstore = rec })
	connect(t, b, a)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := b.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	require.Equal(t, data, readFileBytes(t, b.bstore, root))
	require.LessOrEqual(t, rec.maxBytes.Load(), int64(carBudget), "more than the budget waited for the writer")
	require.GreaterOrEqual(t, rec.calls.Load(), int64(16), "the closure was not written as it streamed")
}

// fetchFromAll fetches root's closure into a new node connected to every server and returns
// the node and the fetch's figures.
func fetchFromAll(t *testing.T, servers []*Node, root cid.Cid) (*Node, FetchStats) {
	t.Helper()
	c := newTestNode(t)
	for _, s := range servers {
		connect(t, c, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := c.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	return c, st
}
