package p2p

import (
	cid "github.com/ipfs/go-cid"
	mc "github.com/multiformats/go-multicodec"

	"github.com/buildchain/buildchain/node/derivation"
)

// DerivationLinks is a LinkFunc for Config.ExtraLinks that makes a fetch of
// a derivation (SPEC §2) bring its inputs: a derivation names them as plain
// CID strings, which are not IPLD links. Store-path inputs are followed, and
// so are the derivations named by unresolved {"drv","output"} inputs (and,
// through them, their own inputs), so fetching a derivation yields
// everything needed to build it except outputs not built yet. dag-json
// blocks that are not derivations have no extra links.
func DerivationLinks(c cid.Cid, data []byte) ([]cid.Cid, error) {
	if mc.Code(c.Type()) != mc.DagJson {
		return nil, nil
	}
	d, err := derivation.Decode(data)
	if err != nil {
		// Not a (valid, canonical) derivation: some other dag-json
		// document, whose IPLD links the walk follows anyway.
		return nil, nil
	}
	out := make([]cid.Cid, 0, len(d.Inputs))
	for _, in := range d.Inputs {
		if in.IsRef() {
			out = append(out, in.Drv)
		} else {
			out = append(out, in.CID)
		}
	}
	return out, nil
}
