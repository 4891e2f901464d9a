package p2p

import (
	"bytes"
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	cid "github.com/ipfs/go-cid"
	_ "github.com/ipld/go-ipld-prime/codec/dagcbor" // registers dag-cbor for link extraction
	_ "github.com/ipld/go-ipld-prime/codec/dagjson" // registers dag-json (derivations) for link extraction
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/multicodec"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/ipld/go-ipld-prime/traversal"
	mc "github.com/multiformats/go-multicodec"
)

// LinkFunc returns CIDs a block refers to beyond its IPLD links. The
// closure walk calls it for every block and follows the union. It lets the
// caller teach the walk about references that are not IPLD links, such as a
// derivation's "inputs", which SPEC §2 stores as plain CID strings.
type LinkFunc func(c cid.Cid, data []byte) ([]cid.Cid, error)

// Links returns the CIDs that the block (c, data) links to as IPLD links:
// none for raw blocks, the PBLinks of dag-pb (UnixFS) nodes, and every link
// found anywhere in a dag-json or dag-cbor document. An unknown codec is an
// error: a closure we cannot see into cannot be said to be complete.
func Links(c cid.Cid, data []byte) ([]cid.Cid, error) {
	switch mc.Code(c.Type()) {
	case mc.Raw:
		return nil, nil
	case mc.DagPb:
		// boxo's own decoder: the fast path for UnixFS, by far our most
		// common codec.
		nd, err := merkledag.DecodeProtobuf(data)
		if err != nil {
			return nil, fmt.Errorf("decode dag-pb block %s: %w", c, err)
		}
		out := make([]cid.Cid, 0, len(nd.Links()))
		for _, l := range nd.Links() {
			out = append(out, l.Cid)
		}
		return out, nil
	}
	dec, err := multicodec.LookupDecoder(c.Type())
	if err != nil {
		return nil, fmt.Errorf("block %s: no decoder for codec 0x%x: %w", c, c.Type(), err)
	}
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dec(nb, bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("decode block %s: %w", c, err)
	}
	lnks, err := traversal.SelectLinks(nb.Build())
	if err != nil {
		return nil, fmt.Errorf("links of block %s: %w", c, err)
	}
	out := make([]cid.Cid, 0, len(lnks))
	for _, l := range lnks {
		cl, ok := l.(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("block %s: link %v is not a CID link", c, l)
		}
		out = append(out, cl.Cid)
	}
	return out, nil
}
