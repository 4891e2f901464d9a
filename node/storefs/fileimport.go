package storefs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/encoding/protowire"
)

// This file imports one file's bytes into exactly the DAG boxo's
// balanced.Layout builds (fixed-size chunks, 174 links per node, the same
// leaf and node encodings), without boxo's per-leaf cost. Profiling the 1 GiB
// add of bench/store showed boxo's leaf path copying every byte four to five
// times (splitter re-allocation, UnixFS protobuf, dag-pb protobuf, again for
// Size, and decoding plus re-encoding the root to set its mode): memmove cost
// more CPU than sha256. Here a chunk is read once into a pooled buffer that
// has room for the dag-pb header in front, hashed once and handed to the
// block writer, which returns the buffer when the block file is written.
// Internal nodes (one per 174 leaves) still go through boxo's FSNode and
// ProtoNode. TestFileLayoutMatchesBoxo checks byte equality with boxo over
// many sizes and shapes; TestKuboCIDs checks against real kubo CIDs.

// fileLayout is the shape of a file DAG.
type fileLayout struct {
	chunkSize int
	maxLinks  int
	raw       bool        // raw leaves; else dag-pb UnixFS File leaves
	mode      os.FileMode // root's UnixFS mode when not raw (0: none), as kubo's --preserve-mode
}

// fileLink is what a parent (or a directory) records about a child: its
// CID, the cumulative size of its DAG (the link's Tsize) and the file bytes
// below it (the parent's blocksizes entry).
type fileLink struct {
	c     cid.Cid
	tsize uint64
	fsize uint64
}

// Leaf buffers keep room for the dag-pb and UnixFS framing around the chunk
// so a dag-pb leaf is encoded in place: in front, the PBNode Data tag and
// length, the UnixFS Type field and the Data tag and length (at most
// 1+5+2+1+5 bytes); behind, filesize and mode (at most 1+10+1+5).
const (
	leafHeadroom = 16
	leafTailroom = 24
)

type leafBuf struct {
	b []byte // headroom | chunk | tailroom
	n int    // chunk bytes read
}

func (lb *leafBuf) chunk() []byte { return lb.b[leafHeadroom : leafHeadroom+lb.n] }

var leafPools sync.Map // chunk size -> *sync.Pool of *leafBuf

func leafPool(chunkSize int) *sync.Pool {
	if p, ok := leafPools.Load(chunkSize); ok {
		return p.(*sync.Pool)
	}
	p, _ := leafPools.LoadOrStore(chunkSize, &sync.Pool{New: func() any {
		return &leafBuf{b: make([]byte, leafHeadroom+chunkSize+leafTailroom)}
	}})
	return p.(*sync.Pool)
}

// fileBuilder reads chunks one ahead (to know whether the current one is
// the last, as boxo's DagBuilderHelper.Done does) and stores each block as
// soon as it is complete.
type fileBuilder struct {
	fileLayout
	ctx  context.Context
	dag  *importDAG
	r    io.Reader
	pool *sync.Pool
	next *leafBuf // the chunk read ahead; nil at the end or on error
	eof  bool
	err  error
	refs *SelfRefs // set before the root is stored when the file had self-references
}

func newFileBuilder(ctx context.Context, dag *importDAG, r io.Reader, l fileLayout) *fileBuilder {
	return &fileBuilder{fileLayout: l, ctx: ctx, dag: dag, r: r, pool: leafPool(l.chunkSize)}
}

// fill reads the next chunk with boxo's splitter semantics: a full chunk,
// or the short last one, or nothing at the end.
func (fb *fileBuilder) fill() {
	if fb.next != nil || fb.eof || fb.err != nil {
		return
	}
	lb := fb.pool.Get().(*leafBuf)
	n, err := io.ReadFull(fb.r, lb.b[leafHeadroom:leafHeadroom+fb.chunkSize])
	lb.n = n
	switch {
	case err == nil:
		fb.next = lb
	case errors.Is(err, io.ErrUnexpectedEOF):
		fb.next, fb.eof = lb, true
	case errors.Is(err, io.EOF):
		fb.pool.Put(lb)
		fb.eof = true
	default:
		fb.pool.Put(lb)
		fb.err = err
	}
}

// done reports the end of the input (false on a read error, so that the
// next take returns it).
func (fb *fileBuilder) done() bool {
	fb.fill()
	return fb.next == nil && fb.err == nil
}

func (fb *fileBuilder) take() (*leafBuf, error) {
	fb.fill()
	if fb.err != nil {
		return nil, fb.err
	}
	if err := fb.ctx.Err(); err != nil {
		return nil, err
	}
	lb := fb.next
	fb.next = nil
	return lb, nil
}

// release returns every buffer still held (after an error).
func (fb *fileBuilder) release() {
	if fb.next != nil {
		fb.pool.Put(fb.next)
		fb.next = nil
	}
}

// build imports the whole input and returns the root's link. onRoot, when
// set, is called after the last chunk was read and before the root node is
// encoded (the self-reference scanner knows its offsets only then).
func (fb *fileBuilder) build(onRoot func()) (fileLink, error) {
	defer fb.release()
	rootDone := func() {
		if onRoot != nil {
			onRoot()
		}
	}
	if fb.done() { // empty file: one leaf with no data
		rootDone()
		return fb.storeLeaf(nil, true)
	}
	first, err := fb.take()
	if err != nil {
		return fileLink{}, err
	}
	if fb.done() {
		rootDone()
		return fb.storeLeaf(first, true)
	}
	if fb.err != nil {
		fb.pool.Put(first)
		return fileLink{}, fb.err
	}
	child, err := fb.storeLeaf(first, false)
	if err != nil {
		return fileLink{}, err
	}
	// balanced.layoutData: each round puts the tree so far under a new root
	// one level deeper and fills that root's remaining links.
	for depth := 1; ; depth++ {
		node := &innerNode{fsn: unixfs.NewFSNode(unixfs.TFile)}
		node.add(child)
		if err := fb.fillInner(node, depth); err != nil {
			return fileLink{}, err
		}
		if fb.done() {
			rootDone()
			return fb.storeInner(node, true)
		}
		if fb.err != nil {
			return fileLink{}, fb.err
		}
		if child, err = fb.storeInner(node, false); err != nil {
			return fileLink{}, err
		}
	}
}

// innerNode is a UnixFS File node being filled with links.
type innerNode struct {
	fsn   *unixfs.FSNode
	links []fileLink
}

func (n *innerNode) add(l fileLink) {
	n.fsn.AddBlockSize(l.fsize)
	n.links = append(n.links, l)
}

// fillInner is balanced.fillNodeRec: add children of the given depth until
// the node is full or the input ends.
func (fb *fileBuilder) fillInner(node *innerNode, depth int) error {
	for len(node.links) < fb.maxLinks && !fb.done() {
		var child fileLink
		var err error
		if depth == 1 {
			var lb *leafBuf
			if lb, err = fb.take(); err != nil {
				return err
			}
			child, err = fb.storeLeaf(lb, false)
		} else {
			sub := &innerNode{fsn: unixfs.NewFSNode(unixfs.TFile)}
			if err = fb.fillInner(sub, depth-1); err != nil {
				return err
			}
			child, err = fb.storeInner(sub, false)
		}
		if err != nil {
			return err
		}
		node.add(child)
	}
	return fb.err
}

// storeInner encodes an internal node (the root gets the file's mode, and
// its self-references) and stores it.
func (fb *fileBuilder) storeInner(n *innerNode, root bool) (fileLink, error) {
	if root && !fb.raw && fb.mode != 0 {
		n.fsn.SetMode(fb.mode)
	}
	data, err := n.fsn.GetBytes()
	if err != nil {
		return fileLink{}, err
	}
	if root && fb.refs != nil {
		data = appendSelfRefs(data, *fb.refs)
	}
	pn := merkledag.NodeWithData(data)
	if err := pn.SetCidBuilder(cidBuilder); err != nil {
		return fileLink{}, err
	}
	for _, l := range n.links {
		if err := pn.AddRawLink("", &ipld.Link{Size: l.tsize, Cid: l.c}); err != nil {
			return fileLink{}, err
		}
	}
	if err := fb.dag.Add(fb.ctx, pn); err != nil {
		return fileLink{}, err
	}
	size, err := pn.Size()
	if err != nil {
		return fileLink{}, err
	}
	return fileLink{c: pn.Cid(), tsize: size, fsize: n.fsn.FileSize()}, nil
}

// storeLeaf encodes a leaf in its buffer, hashes it and hands it to the
// block writer, which returns the buffer to the pool once written. lb is
// nil for the empty file.
func (fb *fileBuilder) storeLeaf(lb *leafBuf, root bool) (fileLink, error) {
	var chunk []byte
	if lb != nil {
		chunk = lb.chunk()
	}
	n := uint64(len(chunk))
	if root && fb.refs != nil {
		// Rare (build outputs with their own path in a one-chunk file):
		// take boxo's path, as attachSelfRefs always did.
		defer func() {
			if lb != nil {
				fb.pool.Put(lb)
			}
		}()
		return fb.storeSelfRefLeafRoot(chunk)
	}
	var block []byte
	var codec uint64
	if fb.raw {
		block, codec = chunk, cid.Raw
	} else {
		block, codec = encodeFileLeaf(lb, root, fb.mode)
	}
	sum := sha256.Sum256(block)
	hash, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		return fileLink{}, err
	}
	c := cid.NewCidV1(codec, hash)
	release := func() {}
	if lb != nil {
		release = func() { fb.pool.Put(lb) }
	}
	if fb.dag.discard {
		release()
	} else {
		fb.dag.w.putOwned(c, block, release)
	}
	return fileLink{c: c, tsize: uint64(len(block)), fsize: n}, nil
}

// encodeFileLeaf writes the dag-pb PBNode{Data: UnixFS{Type: File, Data:
// chunk, filesize, [mode]}} framing around the chunk in lb and returns the
// encoded block, byte for byte what boxo's NewLeafNode (and, for a
// one-chunk root, SetFileAttributes) produce. Field order follows the
// protobuf encoders: UnixFS fields by number; the PBNode has no links, so
// only its Data field.
func encodeFileLeaf(lb *leafBuf, root bool, mode os.FileMode) ([]byte, uint64) {
	emptyFile := lb == nil
	if emptyFile {
		lb = &leafBuf{b: make([]byte, leafHeadroom+leafTailroom)}
	}
	n := uint64(lb.n)
	start, end := leafHeadroom, leafHeadroom+lb.n
	// Tail: filesize (3), then mode (7) on a root with a mode.
	tail := lb.b[end:end]
	tail = protowire.AppendTag(tail, 3, protowire.VarintType)
	tail = protowire.AppendVarint(tail, n)
	if root {
		if perms := files.ModePermsToUnixPerms(mode) & 0xFFF; mode != 0 && perms != 0 {
			tail = protowire.AppendTag(tail, 7, protowire.VarintType)
			tail = protowire.AppendVarint(tail, uint64(perms))
		}
	}
	end += len(tail)
	// Head, written backwards: Type (1) = File, Data (2) unless the file
	// is empty (boxo leaves it unset), then the PBNode Data (1) framing.
	var hdr [leafHeadroom]byte
	h := protowire.AppendTag(hdr[:0], 1, protowire.VarintType)
	h = protowire.AppendVarint(h, uint64(unixfs.TFile))
	if !emptyFile {
		h = protowire.AppendTag(h, 2, protowire.BytesType)
		h = protowire.AppendVarint(h, n)
	}
	start -= len(h)
	copy(lb.b[start:], h)
	ulen := uint64(end - start)
	var pre [leafHeadroom]byte
	p := protowire.AppendTag(pre[:0], 1, protowire.BytesType)
	p = protowire.AppendVarint(p, ulen)
	start -= len(p)
	copy(lb.b[start:], p)
	return lb.b[start:end], cid.DagProtobuf
}

// storeSelfRefLeafRoot stores a one-chunk file whose bytes had
// self-references: its root must record their offsets.
func (fb *fileBuilder) storeSelfRefLeafRoot(chunk []byte) (fileLink, error) {
	data := append([]byte(nil), chunk...)
	var nd ipld.Node
	var err error
	if fb.raw {
		nd, err = merkledag.NewRawNodeWPrefix(data, cidBuilder)
	} else {
		fsn := unixfs.NewFSNode(unixfs.TFile)
		fsn.SetData(data)
		if fb.mode != 0 {
			fsn.SetMode(fb.mode)
		}
		var b []byte
		if b, err = fsn.GetBytes(); err == nil {
			pn := merkledag.NodeWithData(b)
			err = pn.SetCidBuilder(cidBuilder)
			nd = pn
		}
	}
	if err != nil {
		return fileLink{}, err
	}
	// attachSelfRefs wraps a raw leaf (stored as a child) or extends a
	// dag-pb root's Data.
	if _, ok := nd.(*merkledag.RawNode); ok {
		if err := fb.dag.Add(fb.ctx, nd); err != nil {
			return fileLink{}, err
		}
	}
	root, err := attachSelfRefs(nd, *fb.refs)
	if err != nil {
		return fileLink{}, err
	}
	if err := fb.dag.Add(fb.ctx, root); err != nil {
		return fileLink{}, err
	}
	size, err := root.Size()
	if err != nil {
		return fileLink{}, err
	}
	return fileLink{c: root.Cid(), tsize: size, fsize: uint64(len(data))}, nil
}

// storedFile stands for an imported file in the directory code, which
// needs only its CID and cumulative size (ipld.MakeLink). Holding the root
// node instead would keep a small file's bytes in memory until its whole
// directory is done. importDAG.Add skips it: its blocks are already queued.
type storedFile struct{ l fileLink }

var _ ipld.Node = storedFile{}

func (f storedFile) Cid() cid.Cid              { return f.l.c }
func (f storedFile) Size() (uint64, error)     { return f.l.tsize, nil }
func (f storedFile) RawData() []byte           { panic("storefs: storedFile has no bytes in memory") }
func (f storedFile) String() string            { return f.l.c.String() }
func (f storedFile) Loggable() map[string]any  { return map[string]any{"cid": f.l.c} }
func (f storedFile) Links() []*ipld.Link       { panic("storefs: storedFile has no links in memory") }
func (f storedFile) Copy() ipld.Node           { return f }
func (f storedFile) Tree(string, int) []string { return nil }
func (f storedFile) Stat() (*ipld.NodeStat, error) {
	return nil, errors.New("storefs: stat of a stored file link")
}
func (f storedFile) Resolve([]string) (any, []string, error) {
	return nil, nil, errors.New("storefs: resolve through a stored file link")
}
func (f storedFile) ResolveLink([]string) (*ipld.Link, []string, error) {
	return nil, nil, errors.New("storefs: resolve through a stored file link")
}

// importFile runs the builder over r with the store's layout.
func importFile(ctx context.Context, dag *importDAG, r io.Reader, l fileLayout, sr *selfRefScanner, selfRefLen int) (fileLink, error) {
	fb := newFileBuilder(ctx, dag, r, l)
	link, err := fb.build(func() {
		if sr != nil && len(sr.offsets) > 0 {
			fb.refs = &SelfRefs{Len: selfRefLen, Offsets: sr.offsets}
		}
	})
	if err != nil {
		return fileLink{}, fmt.Errorf("import file: %w", err)
	}
	return link, nil
}
