package storefs

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// FuzzReadNode: a dag-pb block from a peer is attacker-chosen. Reading it as UnixFS (stat, symlink
// target, self-reference offsets, file contents with the self-references patched in, as the FUSE
// view and Cat do) returns an error or data, never panics.
func FuzzReadNode(f *testing.F) {
	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ctx := context.Background()
	// Seeds: a file with a self-reference, a small file, a symlink and a directory.
	ph := Placeholder("seed")
	data := append(append([]byte("#!/bin/sh\nexec /ipfs/store/"), ph...), "/bin/x\n"...)
	for _, in := range [][]byte{data, []byte("plain")} {
		root, err := s.AddReader(ctx, bytes.NewReader(in), 0, AddOptions{SelfRef: ph})
		if err != nil {
			f.Fatal(err)
		}
		b, err := s.GetBlock(root)
		if err == nil {
			f.Add(b)
		}
	}
	if sym, err := unixfs.SymlinkData("../x"); err == nil {
		f.Add(merkledag.NodeWithData(sym).RawData())
	}
	f.Add(merkledag.NodeWithData(unixfs.FolderPBData()).RawData())
	root := []byte(cid.NewCidV1(cid.DagProtobuf, mh.Multihash(mhOf(f, "root"))).String())
	f.Fuzz(func(t *testing.T, b []byte) {
		nd, err := merkledag.DecodeProtobuf(b)
		if err != nil {
			return
		}
		rc, _ := cid.Decode(string(root))
		_, _ = StatNode("x", nd)
		_, _ = SymlinkTarget(nd, rc)
		refs, err := FileSelfRefs(nd)
		if err != nil {
			return
		}
		// The FUSE view patches every read of the file at its offset.
		buf := make([]byte, 64)
		for _, off := range []int64{0, 1, 63, 4096, 1 << 40} {
			refs.Patch(buf, off, root)
		}
		if err := s.PutBlock(nd.Cid(), b); err != nil {
			return
		}
		if r, err := s.openNode(ctx, nd, rc); err == nil {
			_, _ = io.Copy(io.Discard, r)
			r.Close()
		}
	})
}

func mhOf(f *testing.F, s string) []byte {
	m, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		f.Fatal(err)
	}
	return m
}

// A self-reference field from a peer's block may record a length other than the root's CID
// string: reading such a file must fail (openNode) or leave the bytes alone (Patch), not index
// past the root (it did: the FUSE view patched every read without checking the length).
func TestSelfRefWrongLength(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	leaf := merkledag.NewRawNode([]byte("0123456789"))
	nd, err := attachSelfRefs(leaf, SelfRefs{Len: 100, Offsets: []uint64{0}})
	if err != nil {
		t.Fatal(err)
	}
	refs, err := FileSelfRefs(nd)
	if err != nil || refs.Len != 100 {
		t.Fatalf("refs %+v, %v", refs, err)
	}
	root := []byte(nd.Cid().String())
	buf := []byte("0123456789")
	refs.Patch(buf, 0, root)
	if string(buf) != "0123456789" {
		t.Fatalf("patched with a root of the wrong length: %q", buf)
	}
	for _, b := range []ipld.Node{leaf, nd} {
		if err := s.PutBlock(b.Cid(), b.RawData()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.openNode(context.Background(), nd, nd.Cid()); err == nil {
		t.Fatal("opened a file whose self-reference cannot hold its root")
	}
}

// FuzzImportCAR: a CAR from outside either imports whole or changes nothing, and what it
// imported verifies (every block hashes to its CID).
func FuzzImportCAR(f *testing.F) {
	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for _, in := range [][]byte{[]byte("small"), bytes.Repeat([]byte("0123456789abcdef"), 20000)} {
		root, err := s.AddReader(ctx, bytes.NewReader(in), 0, AddOptions{})
		if err != nil {
			f.Fatal(err)
		}
		var car bytes.Buffer
		if err := s.ExportCAR(ctx, root, &car); err != nil {
			f.Fatal(err)
		}
		f.Add(car.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before, err := s.AllBlocks()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportCAR(ctx, bytes.NewReader(data)); err != nil {
			after, err2 := s.AllBlocks()
			if err2 != nil {
				t.Fatal(err2)
			}
			if len(after) != len(before) {
				t.Fatalf("a failed import changed the store: %d -> %d blocks (%v)", len(before), len(after), err)
			}
			return
		}
		bad, _, err := s.Verify(ctx)
		if err != nil || len(bad) > 0 {
			t.Fatalf("store does not verify after import: %v %v", bad, err)
		}
	})
}
