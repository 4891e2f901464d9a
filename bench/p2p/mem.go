package main

import (
	"bytes"
	"context"
	"io"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	h "github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	cid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// addMem imports data as SPEC §1 files are imported (CIDv1, raw leaves,
// 256 KiB chunks) into an in-memory blockstore.
func addMem(ctx context.Context, bs blockstore.Blockstore, data []byte) (cid.Cid, error) {
	params := h.DagBuilderParams{
		Maxlinks:   h.DefaultLinksPerBlock,
		RawLeaves:  true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256},
		Dagserv:    merkledag.NewDAGService(blockservice.New(bs, nil)),
	}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), 256<<10))
	if err != nil {
		return cid.Undef, err
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		return cid.Undef, err
	}
	return nd.Cid(), nil
}

func readMem(ctx context.Context, bs blockstore.Blockstore, root cid.Cid) ([]byte, error) {
	dag := merkledag.NewDAGService(blockservice.New(bs, nil))
	nd, err := dag.Get(ctx, root)
	if err != nil {
		return nil, err
	}
	r, err := uio.NewDagReader(ctx, nd, dag)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
