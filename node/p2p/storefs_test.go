package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/storefs"
)

func newStorefsNode(t *testing.T, opts ...nodeOpt) (*Node, *storefs.Store) {
	t.Helper()
	s, err := storefs.Open(filepath.Join(t.TempDir(), "ipfs"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	opts = append([]nodeOpt{func(c *Config) {
		c.Blockstore = s.Blockstore()
		c.Logger = slog.New(slog.DiscardHandler)
	}}, opts...)
	return newTestNode(t, opts...), s
}

// The real on-disk store on both sides: a file added with storefs (kubo's
// CIDs, 256 KiB chunks) is fetched into another store and reads back equal.
func TestFetchBetweenStorefsStores(t *testing.T) {
	a, sa := newStorefsNode(t)
	b, sb := newStorefsNode(t)
	data := randomBytes(20, 3<<20+12345)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root, err := sa.AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
	require.NoError(t, err)

	connect(t, b, a)
	st, err := b.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	want, err := sa.Closure(root)
	require.NoError(t, err)
	require.Equal(t, len(want), st.Blocks)
	require.Equal(t, len(want), st.Fetched)
	got, err := sb.Closure(root)
	require.NoError(t, err)
	require.ElementsMatch(t, want, got)
	var out bytes.Buffer
	require.NoError(t, sb.Cat(ctx, root, "", &out))
	require.Equal(t, data, out.Bytes())
}

// The lying peer against the real store: nothing it sends lands on disk.
func TestLyingPeerRejectedStorefs(t *testing.T) {
	v, sv := newStorefsNode(t)
	liar, lies := startLiar(t)
	ctx := context.Background()
	require.NoError(t, v.Connect(ctx, peer.AddrInfo{ID: liar.ID(), Addrs: liar.Addrs()}))

	real := randomBytes(21, 4096)
	want := cid.NewCidV1(cid.Raw, blocks.NewBlock(real).Cid().Hash())
	fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := v.Fetch(fctx, want, nil)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Positive(t, lies.Load())

	has, err := sv.HasBlock(want)
	require.NoError(t, err)
	require.False(t, has)
	lie := sha256.Sum256([]byte("not the block " + want.String()))
	lieCid, err := want.Prefix().Sum(lie[:])
	require.NoError(t, err)
	has, err = sv.HasBlock(lieCid)
	require.NoError(t, err)
	require.False(t, has)

	// The store itself refuses the lie too (its own check, below ours).
	require.Error(t, sv.PutBlock(want, lie[:]))
}
