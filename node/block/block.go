// Package block is what buildchain knows about a single block, whatever its
// format: whether its bytes match its CID (Verify, and ErrCorrupt, the one
// error every layer returns for a block that does not) and which blocks it
// links to as IPLD links (Links: raw, dag-pb, dag-json, dag-cbor).
//
// It is the bottom of the node's layers (docs/ARCHITECTURE.md): links that
// are not IPLD links, such as a derivation's inputs or an output's runtime
// references, are added on top by node/closure, the one closure walker.
package block

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/verifcid"
	cid "github.com/ipfs/go-cid"
	_ "github.com/ipld/go-ipld-prime/codec/dagcbor" // registers dag-cbor for link extraction
	_ "github.com/ipld/go-ipld-prime/codec/dagjson" // registers dag-json (derivations) for link extraction
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/multicodec"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/ipld/go-ipld-prime/traversal"
	mc "github.com/multiformats/go-multicodec"
	mh "github.com/multiformats/go-multihash"
)

// ErrCorrupt is returned (wrapped) for a block whose bytes do not hash to its
// CID, wherever the bytes came from: a peer, a file under blocks/, a CAR.
var ErrCorrupt = errors.New("block corrupted: its bytes do not hash to its CID")

// Verify checks that data hashes to c with c's own hash function and that
// the function is one we accept (boxo's verifcid allowlist: no weak or
// truncated hashes). A mismatch is ErrCorrupt.
func Verify(c cid.Cid, data []byte) error {
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, c); err != nil {
		return fmt.Errorf("block %s: %w", c, err)
	}
	// mh.Sum and a byte compare, not Prefix().Sum: this runs on every
	// block read (FUSE included) and builds no CID.
	pref := c.Prefix()
	sum, err := mh.Sum(data, pref.MhType, pref.MhLength)
	if err != nil {
		return fmt.Errorf("hash block %s: %w", c, err)
	}
	if !bytes.Equal(sum, c.Hash()) {
		return fmt.Errorf("%w: %s", ErrCorrupt, c)
	}
	return nil
}

// LinkFunc returns the CIDs the block (c, data) refers to. Links is one;
// node/closure's Walker.Children, which adds the references that are not
// IPLD links, is the one the node uses.
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

// Checked is a block whose bytes were hashed and matched its CID (Check):
// the only way to make one with a defined CID outside this package, so a
// function that takes a Checked (storefs's verified batch, which writes it
// without hashing it again) cannot be handed bytes nobody hashed. It is a
// blocks.Block, so it goes wherever one does (bitswap's NotifyNewBlocks).
// The zero value has no CID and is refused by its takers.
type Checked struct {
	c    cid.Cid
	data []byte
}

// Check hashes data (Verify) and returns it as a Checked block.
func Check(c cid.Cid, data []byte) (Checked, error) {
	if err := Verify(c, data); err != nil {
		return Checked{}, err
	}
	return Checked{c: c, data: data}, nil
}

// Cid is the block's CID (undefined for the zero value).
func (b Checked) Cid() cid.Cid { return b.c }

// RawData is the block's bytes; they must not be modified.
func (b Checked) RawData() []byte { return b.data }

// String names the block.
func (b Checked) String() string { return "[Block " + b.c.String() + "]" }

// Loggable is the blocks.Block logging form.
func (b Checked) Loggable() map[string]any { return map[string]any{"block": b.c.String()} }
