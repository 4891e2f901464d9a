package p2p

import (
	"context"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	nodeclosure "github.com/buildchain/buildchain/node/closure"
	"github.com/buildchain/buildchain/node/derivation"
)

// A real derivation whose inputs are a store path and another derivation's
// output: fetching it with the closure walker brings both derivations and the
// store paths they name.
func TestFetchDerivationClosure(t *testing.T) {
	a := newTestNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tools := importFile(t, a.bstore, randomBytes(50, 30<<10), 1024, 8)
	src := importFile(t, a.bstore, randomBytes(51, 20<<10), 1024, 8)
	put := func(d *derivation.Derivation) cid.Cid {
		data, c, err := d.Block()
		require.NoError(t, err)
		blk, err := blocks.NewBlockWithCid(data, c)
		require.NoError(t, err)
		require.NoError(t, a.bstore.Put(ctx, blk))
		return c
	}
	dep := put(&derivation.Derivation{
		Builder: "/ipfs/store/" + tools.String() + "/bin/sh",
		Inputs:  []derivation.Input{{CID: tools}, {CID: src}},
		Name:    "dep", Outputs: []string{"out"}, System: "x86_64-linux",
	})
	top := put(&derivation.Derivation{
		Args:    []string{derivation.Ref(dep, "out")},
		Builder: "/ipfs/store/" + tools.String() + "/bin/sh",
		Inputs:  []derivation.Input{{CID: tools}, {Drv: dep, Output: "out"}},
		Name:    "top", Outputs: []string{"out"}, System: "x86_64-linux",
	})

	b := newTestNode(t, func(c *Config) { c.Links = nodeclosure.Walker{}.Children })
	connect(t, b, a)
	st, err := b.FetchClosure(ctx, top, nil)
	require.NoError(t, err)
	want := append(closure(t, a.bstore, tools), closure(t, a.bstore, src)...)
	require.Equal(t, len(want)+2, st.Blocks)
	requireSameBlocks(t, a.bstore, b.bstore, append(want, top, dep))
}
