package carstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/network"
)

// Getter reads a block; it must hash-check what it returns (a storefs
// blockstore does), since whatever it returns is sent.
type Getter interface {
	Get(ctx context.Context, c cid.Cid) (blocks.Block, error)
}

// IntoGetter is a Getter that can also read a block into a buffer the
// caller reuses once done with the result (storefs's blockstore). The server
// then reads every block into a pooled buffer instead of a new allocation:
// a closure's bytes would otherwise all pass through the heap and drive the
// garbage collector (node/p2p/NOTES.md, "Allocation").
type IntoGetter interface {
	GetInto(ctx context.Context, c cid.Cid, buf []byte) ([]byte, error)
}

// blockBuffers holds buffers of one usual block (256 KiB of data plus a
// dag-pb leaf's framing and a CID), for the server's reads and the
// client's sections; a larger block gets a buffer of its own.
var blockBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 256<<10+4<<10)
	return &b
}}

// putBlockBuffer returns a buffer taken from blockBuffers; nil (a block
// that got a buffer of its own) is ignored.
func putBlockBuffer(bp *[]byte) {
	if bp != nil {
		blockBuffers.Put(bp)
	}
}

// Server answers closure requests from a block getter.
type Server struct {
	Blocks Getter
	Links  LinkFunc
	Log    *slog.Logger
	// ReadAhead is how many blocks per DAG level are read ahead of the
	// one being sent (0: 8), so that reading and hashing blocks overlaps
	// sending them.
	ReadAhead int
}

// serveTimeout bounds one request; a closure that takes longer is
// continued by the client with a new request.
const serveTimeout = 30 * time.Minute

// Handle serves one request on s (a network.StreamHandler).
func (sv *Server) Handle(s network.Stream) {
	defer s.Close()
	_ = s.SetReadDeadline(time.Now().Add(30 * time.Second))
	req, err := readRequest(s)
	if err != nil {
		sv.reply(s, StatusError, err.Error())
		return
	}
	_ = s.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	defer cancel()
	root, err := sv.Blocks.Get(ctx, req.Root)
	if err != nil {
		if ipld.IsNotFound(err) {
			sv.reply(s, StatusNotFound, "no block "+req.Root.String())
		} else {
			sv.logf("carstream: serve %s: %v", req.Root, err)
			sv.reply(s, StatusError, "cannot read the root")
		}
		return
	}
	bw := bufio.NewWriterSize(s, 256<<10)
	if err := bw.WriteByte(StatusOK); err != nil {
		s.Reset()
		return
	}
	if err := writeCARHeader(bw, req.Root); err != nil {
		s.Reset()
		return
	}
	w := &walker{sv: sv, ctx: ctx, req: req, bw: bw, seen: map[cid.Cid]struct{}{req.Root: {}}}
	if err := w.visit(root.Cid(), root.RawData(), nil, req.Parts == 1); err != nil {
		// A broken stream tells the client something went wrong; it
		// fetches the rest elsewhere.
		if !errors.Is(err, context.Canceled) {
			sv.logf("carstream: serve %s to %s: %v", req.Root, s.Conn().RemotePeer(), err)
		}
		s.Reset()
		return
	}
	if err := bw.Flush(); err != nil {
		s.Reset()
		return
	}
	_ = s.CloseWrite()
}

func (sv *Server) reply(s network.Stream, status byte, msg string) {
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	_, _ = s.Write(append([]byte{status}, msg...))
	_ = s.CloseWrite()
}

func (sv *Server) logf(format string, args ...any) {
	if sv.Log != nil {
		sv.Log.Debug(fmt.Sprintf(format, args...))
	}
}

type walker struct {
	sv   *Server
	ctx  context.Context
	req  Request
	bw   *bufio.Writer
	seen map[cid.Cid]struct{}
}

type readResult struct {
	data []byte
	buf  *[]byte // the pooled buffer behind data, if any
	err  error
}

// read reads block c, into a pooled buffer when the getter can.
func (w *walker) read(ctx context.Context, c cid.Cid) readResult {
	if ig, ok := w.sv.Blocks.(IntoGetter); ok {
		bp := blockBuffers.Get().(*[]byte)
		data, err := ig.GetInto(ctx, c, *bp)
		if err != nil {
			blockBuffers.Put(bp)
			return readResult{err: err}
		}
		return readResult{data: data, buf: bp}
	}
	blk, err := w.sv.Blocks.Get(ctx, c)
	if err != nil {
		return readResult{err: err}
	}
	return readResult{data: blk.RawData()}
}

// release returns r's buffer to the pool.
func (r readResult) release() { putBlockBuffer(r.buf) }

// splitSubtrees: a block with at least this many children that have links
// of their own, or may have (not raw), is split between parts by subtree:
// each such child's whole closure is sent by one part's server only
// (directories of many files). With fewer (the internal nodes of one file)
// every part walks them and splits only their raw data blocks.
const splitSubtrees = 8

// visit sends block c (its bytes data), then the closure of its links
// depth-first in link order. owned is true inside a subtree this part sends
// whole. release, if set, is called once data is sent and its links read
// (the bytes are copied on their way out), before the children are visited.
// The children of one block are read ahead (ReadAhead at a time) while
// earlier ones are sent, so the disk, the hashing and the network overlap.
func (w *walker) visit(c cid.Cid, data []byte, release func(), owned bool) error {
	err := writeSection(w.bw, c, data)
	var links []cid.Cid
	if err == nil {
		links, err = w.sv.Links(c, data)
	}
	if release != nil {
		release()
	}
	if err != nil {
		return err
	}
	bySubtree := false
	if !owned {
		n := 0
		for _, l := range links {
			if l.Type() != cid.Raw {
				n++
			}
		}
		bySubtree = n >= splitSubtrees
	}
	type child struct {
		c     cid.Cid
		owned bool
	}
	var todo []child
	for _, l := range links {
		if _, ok := w.seen[l]; ok {
			continue
		}
		childOwned := owned
		if !owned && (l.Type() == cid.Raw || bySubtree) {
			// Another part's data block or subtree is neither read
			// nor sent (nor marked seen: it may come up again inside a
			// subtree this part owns).
			if !inPart(l, w.req.Part, w.req.Parts) {
				continue
			}
			childOwned = bySubtree
		}
		w.seen[l] = struct{}{}
		todo = append(todo, child{l, childOwned})
	}
	if len(todo) == 0 {
		return nil
	}
	ahead := w.sv.ReadAhead
	if ahead <= 0 {
		ahead = 8
	}
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	results := make([]chan readResult, len(todo))
	for i := range results {
		results[i] = make(chan readResult, 1)
	}
	sem := make(chan struct{}, ahead)
	go func() {
		for i, ch := range todo {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() { results[i] <- w.read(ctx, ch.c) }()
		}
	}()
	for i, ch := range todo {
		var r readResult
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-sem
		if r.err != nil {
			if ipld.IsNotFound(r.err) {
				continue // a gap: the client fetches it elsewhere
			}
			return fmt.Errorf("read %s: %w", ch.c, r.err)
		}
		if err := w.visit(ch.c, r.data, r.release, ch.owned); err != nil {
			return err
		}
	}
	return nil
}
