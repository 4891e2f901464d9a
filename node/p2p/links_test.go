package p2p

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/block"
)

func TestLinksByCodec(t *testing.T) {
	bs := newMemStore()
	file := importFile(t, bs, randomBytes(11, 5000), 1024, 4)
	raw := cid.NewCidV1(cid.Raw, blocks.NewBlock([]byte("leaf")).Cid().Hash())

	// dag-json with links nested in a map and a list.
	doc := []byte(`{"a":{"/":"` + file.String() + `"},"b":[{"/":"` + raw.String() + `"},"plain string"]}`)
	c, err := cid.V1Builder{Codec: cid.DagJSON, MhType: mh.SHA2_256}.Sum(doc)
	require.NoError(t, err)
	links, err := block.Links(c, doc)
	require.NoError(t, err)
	require.ElementsMatch(t, []cid.Cid{file, raw}, links)

	links, err = block.Links(raw, []byte("leaf"))
	require.NoError(t, err)
	require.Empty(t, links)

	fb, err := bs.Get(context.Background(), file)
	require.NoError(t, err)
	links, err = block.Links(file, fb.RawData())
	require.NoError(t, err)
	require.Len(t, links, 2) // 5000 bytes in 1 KiB chunks, fan-out 4: two subtrees

	_, err = block.Links(c, []byte("{broken"))
	require.Error(t, err)
	unknown := cid.NewCidV1(0x300000, c.Hash())
	_, err = block.Links(unknown, doc)
	require.ErrorContains(t, err, "no decoder")
}

// A derivation-like dag-json root whose inputs are plain CID strings
// (docs/ARCHITECTURE.md §Derivations and builds) is fetched with its inputs' closures when Config.Links reads them.
func TestFetchWithLinksHook(t *testing.T) {
	a := newTestNode(t)
	in1 := importFile(t, a.bstore, randomBytes(12, 20<<10), 1024, 8)
	in2 := importFile(t, a.bstore, randomBytes(13, 20<<10), 1024, 8)
	drv, err := json.Marshal(map[string]any{"name": "hello", "inputs": []string{in1.String(), in2.String()}})
	require.NoError(t, err)
	drvCid, err := cid.V1Builder{Codec: cid.DagJSON, MhType: mh.SHA2_256}.Sum(drv)
	require.NoError(t, err)
	blk, err := blocks.NewBlockWithCid(drv, drvCid)
	require.NoError(t, err)
	require.NoError(t, a.bstore.Put(context.Background(), blk))

	inputs := func(c cid.Cid, data []byte) ([]cid.Cid, error) {
		if c.Type() != cid.DagJSON {
			return nil, nil
		}
		var d struct{ Inputs []string }
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, err
		}
		var out []cid.Cid
		for _, s := range d.Inputs {
			c, err := cid.Decode(s)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	withInputs := func(c cid.Cid, data []byte) ([]cid.Cid, error) {
		links, err := block.Links(c, data)
		if err != nil {
			return nil, err
		}
		more, err := inputs(c, data)
		return append(links, more...), err
	}
	b := newTestNode(t, func(c *Config) { c.Links = withInputs })
	connect(t, b, a)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := b.FetchClosure(ctx, drvCid, nil)
	require.NoError(t, err)
	want := append(closure(t, a.bstore, in1), closure(t, a.bstore, in2)...)
	require.Equal(t, len(want)+1, st.Blocks)
	requireSameBlocks(t, a.bstore, b.bstore, want)

	// Without the hook only the derivation block itself is fetched.
	c := newTestNode(t)
	connect(t, c, a)
	st, err = c.FetchClosure(ctx, drvCid, nil)
	require.NoError(t, err)
	require.Equal(t, 1, st.Blocks)
}
