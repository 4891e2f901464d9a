// Package closure is the node's one closure model: which blocks a block
// keeps alive and brings along. Every closure walk of the node (the GC's
// mark, a fetch over p2p, what a build sees of its inputs, what a node
// provides) asks one Walker for the children of a block, so they all agree
// on what "the closure of X" is.
//
// A block's children are
//   - its IPLD links (block.Links: dag-pb, dag-json, dag-cbor; raw has none);
//   - for a derivation (a dag-json block that decodes as one, see
//     node/derivation), its inputs, which the format names as CID strings,
//     not IPLD links: store paths, and the derivations named by unresolved
//     {"drv","output"} inputs;
//   - for a store path, its runtime references: the other store paths its
//     files name by /ipfs/store/{cid} path, recorded when it was built or
//     first scanned (Walker.References, backed by node/storefs).
//
// "References" always means the last kind; "links" the first two.
//
// Links are in the block's bytes, so every node sees the same ones;
// references are what one node recorded, so two nodes may disagree about
// them. A closure stream between nodes (node/p2p/carstream) therefore
// carries the zero Walker's closure, and the fetching node walks its own
// references afterwards (node/runtime/fetch.go).
package closure

import (
	"fmt"

	cid "github.com/ipfs/go-cid"
	mc "github.com/multiformats/go-multicodec"

	"github.com/buildchain/buildchain/node/block"
	"github.com/buildchain/buildchain/node/derivation"
)

// Walker names the children of a block. The zero Walker knows IPLD links
// and derivation inputs; the store's (storefs.Store.Walker) knows runtime
// references too, and is the one the node uses everywhere.
type Walker struct {
	// References returns the runtime references recorded for c, nil if
	// none are. Nil means no runtime references are followed.
	References func(c cid.Cid) ([]cid.Cid, error)
}

// Children returns every CID the block (c, data) refers to: IPLD links,
// derivation inputs and runtime references, in that order (duplicates are
// possible; walks keep a seen set). data is not read for raw blocks, so a
// caller may pass nil for them.
func (w Walker) Children(c cid.Cid, data []byte) ([]cid.Cid, error) {
	out, err := block.Links(c, data)
	if err != nil {
		return nil, err
	}
	out = append(out, Inputs(c, data)...)
	if w.References != nil {
		refs, err := w.References(c)
		if err != nil {
			return nil, fmt.Errorf("runtime references of %s: %w", c, err)
		}
		out = append(out, refs...)
	}
	return out, nil
}

// Inputs returns the inputs a derivation block names: store-path inputs and
// the derivations named by unresolved {"drv","output"} inputs (and, through
// them, their own inputs), so the closure of a derivation is everything
// needed to build it except outputs not built yet. Other blocks, dag-json
// documents that are not canonical derivations included, have none.
func Inputs(c cid.Cid, data []byte) []cid.Cid {
	if mc.Code(c.Type()) != mc.DagJson {
		return nil
	}
	d, err := derivation.Decode(data)
	if err != nil {
		return nil
	}
	out := make([]cid.Cid, 0, len(d.Inputs))
	for _, in := range d.Inputs {
		if in.IsRef() {
			out = append(out, in.Drv)
		} else {
			out = append(out, in.CID)
		}
	}
	return out
}
