package storefs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/buildchain/buildchain/node/block"
	"github.com/buildchain/buildchain/node/storefs/corpus"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
)

// TestReadBlockIntoAndFileLeafData: ReadBlockInto returns what GetBlock
// returns (in the caller's buffer when it fits), refuses a corrupted or
// missing block, and FileLeafData gives the same file bytes as boxo's
// decoders for raw leaves, dag-pb leaves with modes and internal nodes.
func TestReadBlockIntoAndFileLeafData(t *testing.T) {
	s := openTemp(t)
	data := corpus.Stream("leafdata", 3*262144+77)
	for _, opts := range []AddOptions{{}, {PreserveMode: true}} {
		root, err := s.AddReader(context.Background(), bytes.NewReader(data), 0o755, opts)
		if err != nil {
			t.Fatal(err)
		}
		rootNd, err := s.GetNode(root)
		if err != nil {
			t.Fatal(err)
		}
		// The root is an internal node: it has links.
		rootBlk, err := s.GetBlock(root)
		if err != nil {
			t.Fatal(err)
		}
		if _, links, err := FileLeafData(root, rootBlk); err != nil || !links {
			t.Fatalf("root %s: links %v, err %v", root, links, err)
		}
		var got []byte
		buf := make([]byte, 0, 300<<10)
		for _, l := range rootNd.Links() {
			want, err := s.GetBlock(l.Cid)
			if err != nil {
				t.Fatal(err)
			}
			blk, err := s.ReadBlockInto(l.Cid, buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(blk, want) || &blk[:1][0] != &buf[:1][0] {
				t.Fatalf("leaf %s: wrong bytes or not in the caller's buffer", l.Cid)
			}
			leaf, links, err := FileLeafData(l.Cid, blk)
			if err != nil || links {
				t.Fatalf("leaf %s: links %v, err %v", l.Cid, links, err)
			}
			// boxo's view of the same leaf.
			var boxo []byte
			if l.Cid.Type() == cid.Raw {
				boxo = want
			} else {
				nd, err := merkledag.DecodeProtobuf(want)
				if err != nil {
					t.Fatal(err)
				}
				fsn, err := unixfs.FSNodeFromBytes(nd.Data())
				if err != nil {
					t.Fatal(err)
				}
				boxo = fsn.Data()
			}
			if !bytes.Equal(leaf, boxo) {
				t.Fatalf("leaf %s: FileLeafData differs from boxo's decoding", l.Cid)
			}
			got = append(got, leaf...)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("preserve %v: leaves do not make the file", opts.PreserveMode)
		}
		// A buffer too small: a fresh slice of the block's size.
		first := rootNd.Links()[0].Cid
		if blk, err := s.ReadBlockInto(first, make([]byte, 10)); err != nil || len(blk) < 262144 {
			t.Fatalf("small buffer: %d bytes, %v", len(blk), err)
		}
		// A corrupted block is refused, a missing one is ErrNotFound.
		p := s.BlockPath(first)
		blk, _ := os.ReadFile(p)
		blk[len(blk)/2] ^= 1
		os.Chmod(p, 0o644)
		if err := os.WriteFile(p, blk, 0o444); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadBlockInto(first, buf); !errors.Is(err, block.ErrCorrupt) {
			t.Fatalf("corrupted block: %v", err)
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadBlockInto(first, buf); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing block: %v", err)
		}
	}
	// Neither raw nor dag-pb, or a dag-pb node that is not a file.
	if _, _, err := FileLeafData(cid.NewCidV1(cid.DagCBOR, rootHashOf(t, []byte{0xa0})), []byte{0xa0}); err == nil {
		t.Fatal("dag-cbor accepted as a file block")
	}
	dir := unixfs.EmptyDirNode()
	if _, _, err := FileLeafData(dir.Cid(), dir.RawData()); err == nil {
		t.Fatal("a directory accepted as a file block")
	}
}

func rootHashOf(t *testing.T, b []byte) []byte {
	t.Helper()
	c, err := cid.V1Builder{Codec: cid.DagCBOR, MhType: 0x12}.Sum(b)
	if err != nil {
		t.Fatal(err)
	}
	return c.Hash()
}
