package p2p

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	h "github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/block"
)

// newMemStore is boxo's in-memory blockstore that hash-checks on read (the
// storefs blockstore will also check on write).
func newMemStore() blockstore.Blockstore {
	return &blockstore.ValidatingBlockstore{
		Blockstore: blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore())),
	}
}

type nodeOpt func(*Config)

func newTestNode(t *testing.T, opts ...nodeOpt) *Node {
	t.Helper()
	cfg := Config{
		KeyFile:           filepath.Join(t.TempDir(), "p2p.key"),
		ListenAddrs:       []string{"/ip4/127.0.0.1/tcp/0"},
		Blockstore:        newMemStore(),
		ReprovideInterval: -1,
		// Tests that want re-announcing set it; others must not see
		// repeated records.
		ReannounceInterval: -1,
		Logger:             slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	return n
}

func withBootstrap(nodes ...*Node) nodeOpt {
	return func(c *Config) {
		for _, n := range nodes {
			for _, a := range n.Addrs() {
				c.Bootstrap = append(c.Bootstrap, a.String())
			}
		}
	}
}

func connect(t *testing.T, a, b *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.Connect(ctx, b.AddrInfo()))
}

// randomBytes is deterministic pseudo-random content.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// importFile adds data to bs as a UnixFS file (CIDv1, raw leaves) with the
// given chunk size and fan-out, so tests can make deep multi-block DAGs.
func importFile(t testing.TB, bs blockstore.Blockstore, data []byte, chunk int64, maxLinks int) cid.Cid {
	t.Helper()
	dag := merkledag.NewDAGService(blockservice.New(bs, nil))
	params := h.DagBuilderParams{
		Maxlinks:   maxLinks,
		RawLeaves:  true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256},
		Dagserv:    dag,
	}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), chunk))
	require.NoError(t, err)
	nd, err := balanced.Layout(db)
	require.NoError(t, err)
	return nd.Cid()
}

// closure lists every CID reachable from root in bs.
func closure(t testing.TB, bs blockstore.Blockstore, root cid.Cid) []cid.Cid {
	t.Helper()
	ctx := context.Background()
	seen := map[cid.Cid]bool{}
	var out []cid.Cid
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
		b, err := bs.Get(ctx, c)
		require.NoError(t, err)
		links, err := block.Links(c, b.RawData())
		require.NoError(t, err)
		stack = append(stack, links...)
	}
	return out
}

// requireSameBlocks checks that dst holds every block of want with equal bytes.
func requireSameBlocks(t *testing.T, src, dst blockstore.Blockstore, want []cid.Cid) {
	t.Helper()
	ctx := context.Background()
	for _, c := range want {
		a, err := src.Get(ctx, c)
		require.NoError(t, err)
		b, err := dst.Get(ctx, c)
		require.NoError(t, err, "block %s missing after fetch", c)
		require.Equal(t, a.RawData(), b.RawData())
	}
}

// readFile reads a UnixFS file back from bs through boxo's reader.
func readFileBytes(t *testing.T, bs blockstore.Blockstore, root cid.Cid) []byte {
	t.Helper()
	ctx := context.Background()
	dag := merkledag.NewDAGService(blockservice.New(bs, nil))
	nd, err := dag.Get(ctx, root)
	require.NoError(t, err)
	r, err := uio.NewDagReader(ctx, nd, dag)
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return data
}

func peerIn(list []peer.ID, p peer.ID) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// waitProviders polls n's DHT until the providers it finds for c are exactly
// want, and returns them. Provide cannot be followed by a single lookup: the
// DHT's ADD_PROVIDER message has no reply, so Provide returns once the record
// is sent, before any peer stored it, and a lookup that reaches that peer
// first finds nothing (issue 13: 2 failures in 61 runs under load).
func waitProviders(t *testing.T, n *Node, c cid.Cid, want ...peer.ID) []peer.AddrInfo {
	t.Helper()
	var got []peer.AddrInfo
	ok := eventually(30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ps, err := n.FindProviders(ctx, c, len(want)+1)
		if err != nil {
			return false
		}
		got = ps
		if len(ps) != len(want) {
			return false
		}
		for _, p := range ps {
			if !peerIn(want, p.ID) {
				return false
			}
		}
		return true
	})
	require.True(t, ok, "providers of %s: want %v, last lookup found %v", c, want, got)
	return got
}
