package p2p

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"
)

// A two-node exchange of a multi-level DAG over real libp2p on loopback.
// Both paths: closure streams (the default between buildchain nodes) and
// bitswap alone (as with IPFS peers).
func TestFetchTwoNodes(t *testing.T) {
	t.Run("car", func(t *testing.T) { fetchTwoNodes(t) })
	t.Run("bitswap", func(t *testing.T) { fetchTwoNodes(t, func(c *Config) { c.NoCARStream = true }) })
}

func fetchTwoNodes(t *testing.T, opts ...nodeOpt) {
	a := newTestNode(t, opts...)
	b := newTestNode(t, opts...)
	data := randomBytes(1, 600<<10)
	// 2 KiB chunks with fan-out 16: 300 leaves under 3 levels of dag-pb nodes.
	root := importFile(t, a.bstore, data, 2048, 16)
	want := closure(t, a.bstore, root)
	require.Greater(t, len(want), 300)

	connect(t, b, a)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var calls, lastDone, lastTotal int
	st, err := b.FetchClosure(ctx, root, func(done, total int) {
		calls++
		require.LessOrEqual(t, done, total)
		require.GreaterOrEqual(t, done, lastDone)
		lastDone, lastTotal = done, total
	})
	require.NoError(t, err)
	require.Equal(t, len(want), st.Blocks)
	require.Equal(t, len(want), st.Fetched)
	require.Equal(t, len(want), lastDone)
	require.Equal(t, len(want), lastTotal)
	require.Equal(t, len(want), calls)
	requireSameBlocks(t, a.bstore, b.bstore, want)
	require.Equal(t, data, readFileBytes(t, b.bstore, root))

	// A second fetch finds everything local and fetches nothing.
	st, err = b.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	require.Equal(t, len(want), st.Blocks)
	require.Zero(t, st.Fetched)
}

// Three nodes: the DAG's blocks are split between A and B, so C completes
// the closure only by fetching from both in one session. Then a partial
// closure on C (a deleted inner subtree) is completed by a second fetch.
func TestFetchThreeNodesSplitDAG(t *testing.T) {
	a := newTestNode(t)
	b := newTestNode(t)
	c := newTestNode(t)
	scratch := newMemStore()
	data := randomBytes(2, 400<<10)
	root := importFile(t, scratch, data, 1024, 8)
	all := closure(t, scratch, root)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, k := range all {
		blk, err := scratch.Get(ctx, k)
		require.NoError(t, err)
		dst := a.bstore
		if i%2 == 1 {
			dst = b.bstore
		}
		require.NoError(t, dst.Put(ctx, blk))
	}
	connect(t, c, a)
	connect(t, c, b)

	st, err := c.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	require.Equal(t, len(all), st.Fetched)
	requireSameBlocks(t, scratch, c.bstore, all)
	require.Equal(t, data, readFileBytes(t, c.bstore, root))

	// Delete half of the blocks from C except the root: the walk reads the
	// local ones and fetches only what is missing.
	var deleted int
	for i, k := range all {
		if i > 0 && i%2 == 0 {
			require.NoError(t, c.bstore.DeleteBlock(ctx, k))
			deleted++
		}
	}
	st, err = c.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	require.Equal(t, len(all), st.Blocks)
	require.Equal(t, deleted, st.Fetched)
	requireSameBlocks(t, scratch, c.bstore, all)
}

// Fetching a root no peer has ends with the context and an error naming it;
// nothing is stored.
func TestFetchMissingTimesOut(t *testing.T) {
	a := newTestNode(t)
	b := newTestNode(t)
	connect(t, b, a)
	blk := blocks.NewBlock(randomBytes(3, 1000))
	c := cid.NewCidV1(cid.Raw, blk.Cid().Hash())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := b.Fetch(ctx, c, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, c.String())
	has, err := b.bstore.Has(context.Background(), c)
	require.NoError(t, err)
	require.False(t, has)
}

// Concurrent fetches of overlapping DAGs on one node all complete.
func TestFetchConcurrent(t *testing.T) {
	a := newTestNode(t)
	b := newTestNode(t)
	connect(t, b, a)
	var roots []cid.Cid
	for i := range 4 {
		roots = append(roots, importFile(t, a.bstore, randomBytes(uint64(10+i), 100<<10), 1024, 8))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(roots)*2)
	for i := range len(roots) * 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Fetch(ctx, roots[i%len(roots)], nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	for _, r := range roots {
		requireSameBlocks(t, a.bstore, b.bstore, closure(t, a.bstore, r))
	}
}

func TestFetchBadInput(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	require.ErrorContains(t, n.Fetch(ctx, cid.Undef, nil), "undefined CID")

	// A CID with a weak hash (md5) is refused before anything is asked.
	weak, err := cid.V1Builder{Codec: cid.Raw, MhType: 0xd5}.Sum([]byte("x"))
	require.NoError(t, err)
	require.Error(t, n.Fetch(ctx, weak, nil))

	// A DAG node whose codec we cannot read is an error, not a silent
	// partial closure.
	data := []byte("opaque")
	odd, err := cid.V1Builder{Codec: 0x300000, MhType: 0x12}.Sum(data)
	require.NoError(t, err)
	blk, err := blocks.NewBlockWithCid(data, odd)
	require.NoError(t, err)
	require.NoError(t, n.bstore.Put(ctx, blk))
	require.ErrorContains(t, n.Fetch(ctx, odd, nil), "no decoder")
}

// slowStore is a fetcher's blockstore whose writes are slow (a busy
// disk): peers then send faster than it stores.
type slowStore struct {
	blockstore.Blockstore
	stored atomic.Int64
}

func (s *slowStore) PutMany(ctx context.Context, bs []blocks.Block) error {
	time.Sleep(time.Duration(len(bs)) * time.Millisecond)
	err := s.Blockstore.PutMany(ctx, bs)
	s.stored.Add(int64(len(bs)))
	return err
}

// sendCounter is a server's blockstore that counts the blocks bitswap
// reads to send.
type sendCounter struct {
	blockstore.Blockstore
	sent atomic.Int64
	// against is the fetcher's store; peak is the most blocks sent and not
	// yet stored by it at any moment.
	against *slowStore
	peak    atomic.Int64
}

func (s *sendCounter) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := s.Blockstore.Get(ctx, c)
	if err == nil {
		d := s.sent.Add(1) - s.against.stored.Load()
		for p := s.peak.Load(); d > p && !s.peak.CompareAndSwap(p, d); p = s.peak.Load() {
		}
	}
	return b, err
}

// TestBitswapFetchWithinWindow: over bitswap a block counts against the
// fetch's window until it is stored, and the window holds about
// fetchBudget bytes, so a slow store makes the peer wait instead of the
// received blocks piling up in memory. Before, a block left the window
// when it arrived: with this store about 1,000 blocks (the whole file)
// were sent ahead of it.
func TestBitswapFetchWithinWindow(t *testing.T) {
	old := fetchBudget
	fetchBudget = 1 << 20
	defer func() { fetchBudget = old }()
	slow := &slowStore{Blockstore: newMemStore()}
	srv := &sendCounter{Blockstore: newMemStore(), against: slow}
	noCAR := func(c *Config) { c.NoCARStream = true }
	a := newTestNode(t, noCAR, func(c *Config) { c.Blockstore = srv })
	b := newTestNode(t, noCAR, func(c *Config) { c.Blockstore = slow })
	data := randomBytes(72, 16<<20)
	// 16 KiB leaves, 1,024 of them: the window is about 1 MiB / 16 KiB = 64.
	root := importFile(t, srv.Blockstore, data, 16<<10, 174)
	connect(t, b, a)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	st, err := b.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	require.Equal(t, data, readFileBytes(t, b.bstore, root))
	require.Greater(t, st.Fetched, 1000)
	// Up to maxInflight wants go out before the first leaf tells the block
	// size; after that about 64 are outstanding or unwritten.
	require.LessOrEqual(t, srv.peak.Load(), int64(maxInflight), "blocks sent ahead of the store")
	require.Less(t, srv.peak.Load(), int64(st.Fetched)/2, "blocks sent ahead of the store")
}
