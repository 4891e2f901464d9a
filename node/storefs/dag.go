package storefs

import (
	"context"
	"fmt"
	"sync"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/buildchain/buildchain/node/block"
)

// decodeNode turns verified block bytes into an IPLD node.
func decodeNode(c cid.Cid, data []byte) (ipld.Node, error) {
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		return nil, err
	}
	switch c.Type() {
	case cid.DagProtobuf:
		return merkledag.DecodeProtobufBlock(b)
	case cid.Raw:
		return merkledag.DecodeRawBlock(b)
	default:
		return nil, fmt.Errorf("block %s: codec 0x%x is not UnixFS", c, c.Type())
	}
}

// GetNode reads, verifies and decodes the node c.
func (s *Store) GetNode(c cid.Cid) (ipld.Node, error) {
	data, err := s.GetBlock(c)
	if err != nil {
		return nil, err
	}
	return decodeNode(c, data)
}

// DAG returns a read-only ipld.DAGService over the store (every Get is
// hash-checked). Add stores a node; Remove is refused, only GC deletes.
func (s *Store) DAG() ipld.DAGService { return &readDAG{s: s} }

type readDAG struct{ s *Store }

func (d *readDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.s.GetNode(c)
}

func (d *readDAG) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	go func() {
		defer close(out)
		for _, c := range cs {
			nd, err := d.Get(ctx, c)
			select {
			case out <- &ipld.NodeOption{Node: nd, Err: err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (d *readDAG) Add(ctx context.Context, nd ipld.Node) error {
	return d.s.PutBlock(nd.Cid(), nd.RawData())
}

func (d *readDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	w := d.s.newWriter()
	for _, nd := range nds {
		if err := block.Verify(nd.Cid(), nd.RawData()); err != nil {
			return fmt.Errorf("add node: %w", err)
		}
		w.put(nd.Cid(), nd.RawData())
	}
	return w.commit()
}

func (d *readDAG) Remove(context.Context, cid.Cid) error {
	return fmt.Errorf("remove node: the store only deletes blocks in GC")
}

func (d *readDAG) RemoveMany(context.Context, []cid.Cid) error {
	return fmt.Errorf("remove nodes: the store only deletes blocks in GC")
}

// importDAG is the DAGService the importer writes through: blocks go to a
// writer (pipelined, batch-committed) and dag-pb nodes stay readable from
// memory until commit, since the directory code may read back a node it
// just wrote while its file is still being written.
type importDAG struct {
	s       *Store
	w       *writer
	discard bool // only hash: keep nothing but the pending dag-pb nodes
	mu      sync.Mutex
	pending map[cid.Cid]ipld.Node
}

func (s *Store) newImportDAG() *importDAG {
	return &importDAG{s: s, w: s.newWriter(), pending: map[cid.Cid]ipld.Node{}}
}

func (d *importDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	d.mu.Lock()
	nd, ok := d.pending[c]
	d.mu.Unlock()
	if ok {
		return nd, nil
	}
	return d.s.GetNode(c)
}

func (d *importDAG) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	for _, c := range cs {
		nd, err := d.Get(ctx, c)
		out <- &ipld.NodeOption{Node: nd, Err: err}
	}
	close(out)
	return out
}

func (d *importDAG) Add(ctx context.Context, nd ipld.Node) error {
	if _, ok := nd.(storedFile); ok {
		return nil // its blocks are queued already (the HAMT code re-adds children)
	}
	c := nd.Cid()
	if c.Type() != cid.Raw {
		d.mu.Lock()
		d.pending[c] = nd
		d.mu.Unlock()
	}
	if !d.discard {
		links := nd.Links()
		children := make([]cid.Cid, len(links))
		for i, l := range links {
			children[i] = l.Cid
		}
		d.w.putLinks(c, nd.RawData(), children, true, nil)
	}
	return nil
}

func (d *importDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	for _, nd := range nds {
		if err := d.Add(ctx, nd); err != nil {
			return err
		}
	}
	return nil
}

func (d *importDAG) Remove(context.Context, cid.Cid) error { return nil }

func (d *importDAG) RemoveMany(context.Context, []cid.Cid) error { return nil }

func (d *importDAG) commit() error { return d.w.commit() }
