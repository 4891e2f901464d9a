package sidecar

import (
	cid "github.com/ipfs/go-cid"
	mc "github.com/multiformats/go-multicodec"

	"github.com/buildchain/buildchain/node/derivation"
)

// DerivationLinks is a p2p.LinkFunc: a derivation names its inputs as CID
// strings (SPEC §2), not IPLD links, so the closure walk is told about them
// here. With it, fetching a derivation's CID fetches every input it builds
// from (and, for unresolved derivations, the derivations it depends on).
// Other dag-json documents have no extra links.
func DerivationLinks(c cid.Cid, data []byte) ([]cid.Cid, error) {
	if mc.Code(c.Type()) != mc.DagJson {
		return nil, nil
	}
	d, err := derivation.DecodeBlock(c, data)
	if err != nil {
		return nil, nil //nolint:nilerr // not a derivation: only its IPLD links count
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
