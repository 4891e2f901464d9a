package p2p

import (
	"bytes"
	"testing"

	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	nodeclosure "github.com/buildchain/buildchain/node/closure"
	"github.com/buildchain/buildchain/node/storefs"
)

// newWalkerNode is a node on a real store walking closures with the store's
// walker (IPLD links, derivation inputs, runtime references), as
// node/runtime wires it.
func newWalkerNode(t *testing.T, opts ...nodeOpt) (*Node, *storefs.Store) {
	t.Helper()
	var s *storefs.Store // set before any walk: the node only walks when asked to fetch
	n, st := newStorefsNode(t, append(opts, func(c *Config) {
		c.Links = func(c cid.Cid, data []byte) ([]cid.Cid, error) { return s.Walker().Children(c, data) }
	})...)
	s = st
	return n, s
}

// contentClosure is every CID reachable from root in s through what the
// blocks' bytes name (IPLD links, derivation inputs): what a closure stream
// carries.
func contentClosure(t testing.TB, s *storefs.Store, root cid.Cid) []cid.Cid {
	t.Helper()
	seen := map[cid.Cid]bool{root: true}
	out := []cid.Cid{root}
	for i := 0; i < len(out); i++ {
		data, err := s.GetBlock(out[i])
		require.NoError(t, err)
		ls, err := nodeclosure.Walker{}.Children(out[i], data)
		require.NoError(t, err)
		for _, l := range ls {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// requireStreamedWhole checks that a fetch of root brought its whole content
// closure from peers over closure streams alone: no peer dropped, nothing
// left to the bitswap fallback, and the fetching store holds exactly that
// closure.
func requireStreamedWhole(t *testing.T, st FetchStats, sa, sb *storefs.Store, root cid.Cid) {
	t.Helper()
	require.Empty(t, st.Dropped, "a peer serving a real closure was dropped as a liar")
	want := contentClosure(t, sa, root)
	require.Equal(t, len(want), st.Fetched)
	require.Equal(t, st.Fetched, st.Streamed, "blocks left to the bitswap fallback")
	require.ElementsMatch(t, want, contentClosure(t, sb, root))
}

// A store path with recorded runtime references (node/storefs references/,
// written when it was built: here a tool whose script names a library's
// store path) is fetched over a closure stream by a node that has not
// recorded them yet, which is every node fetching it the first time. The
// serving node's walker follows the references and the fetching node's
// cannot: the stream carries what the blocks name, so the fetcher is not
// sent a block it cannot check and does not drop the peer.
func TestFetchStorePathWithReferences(t *testing.T) {
	a, sa := newWalkerNode(t)
	b, sb := newWalkerNode(t)
	ctx := t.Context()
	lib, err := sa.AddReader(ctx, bytes.NewReader(randomBytes(60, 900<<10)), 0, storefs.AddOptions{})
	require.NoError(t, err)
	tool, err := sa.AddReader(ctx, bytes.NewReader(append([]byte("#!/ipfs/store/"+lib.String()+"/bin/sh\n"), randomBytes(61, 700<<10)...)), 0, storefs.AddOptions{})
	require.NoError(t, err)
	require.NoError(t, sa.SetReferences(tool, []cid.Cid{lib}))
	require.NoError(t, sa.SetReferences(lib, nil))

	connect(t, b, a)
	st, err := b.FetchClosure(ctx, tool, nil)
	require.NoError(t, err)
	requireStreamedWhole(t, st, sa, sb, tool)
	require.NotContains(t, contentClosure(t, sb, tool), lib, "the reference is not named by the bytes")
	// The fetcher records the references itself (node/builder scans a fetched
	// store path); then the reference is one more closure to fetch.
	require.NoError(t, sb.SetReferences(tool, []cid.Cid{lib}))
	st, err = b.FetchClosure(ctx, lib, nil)
	require.NoError(t, err)
	requireStreamedWhole(t, st, sa, sb, lib)
	got, err := sb.Closure(tool)
	require.NoError(t, err)
	want, err := sa.Closure(tool)
	require.NoError(t, err)
	require.ElementsMatch(t, want, got)
}
