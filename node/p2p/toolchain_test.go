package p2p

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/toolchain/debian/debiantest"
	"github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
)

// TestFetchGCCToolchain: the real gcc toolchain (Debian's gcc 12, binutils and
// glibc relocated into one store path, as `buildchaind bootstrap --toolchain
// gcc` imports it) is fetched over closure streams, first from the importing
// node, then split between it and the first fetcher, by nodes that walk with
// their store's walker as node/runtime wires it. Every block comes over the
// streams and no peer is dropped. The toolchain names the bootstrap busybox
// by its store path (bin/cc's #! line), a runtime reference the importing
// node recorded and the fetchers have not: the reference the closure
// streams once followed on the serving side only, refusing every such fetch
// as "block not linked from the requested DAG" and leaving it to bitswap.
func TestFetchGCCToolchain(t *testing.T) {
	src := debiantest.Debs(t, gcctoolchain.GCC)
	e := debiantest.New(t, false)
	gcc := e.Import("gcc", src)
	refs, ok, err := e.Store.RecordedReferences(gcc)
	require.NoError(t, err)
	require.True(t, ok)
	require.Contains(t, refs, e.Bootstrap(), "the toolchain's runtime reference this test is about")

	a := newTestNode(t, func(c *Config) {
		c.Blockstore = e.Store.Blockstore()
		c.Links = e.Store.Walker().Children
	})
	b, sb := newWalkerNode(t)
	ctx := t.Context()
	connect(t, b, a)
	st, err := b.FetchClosure(ctx, gcc, nil)
	require.NoError(t, err)
	requireStreamedWhole(t, st, e.Store, sb, gcc)
	t.Logf("gcc toolchain: %d blocks, %d bytes from one peer", st.Fetched, st.FetchedBytes)

	c, sc := newWalkerNode(t)
	connect(t, c, a)
	connect(t, c, b)
	st, err = c.FetchClosure(ctx, gcc, nil)
	require.NoError(t, err)
	requireStreamedWhole(t, st, e.Store, sc, gcc)
}
