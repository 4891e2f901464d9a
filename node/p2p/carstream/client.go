package carstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	cid "github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/buildchain/buildchain/node/block"
)

// Stats describes one finished (or failed) request.
type Stats struct {
	Blocks int   // verified blocks handed to put
	Bytes  int64 // their bytes
}

// Verified is a block that passed every check, with its links. Its block
// is a block.Checked: the store writes it without hashing it again.
type Verified struct {
	Block   block.Checked
	Links   []cid.Cid
	release func()
}

// Release hands the block's buffer back for the next blocks of the stream:
// call it once, when the bytes are no longer needed (written), and never
// use them afterwards. A block never released is garbage collected.
func (v Verified) Release() {
	if v.release != nil {
		v.release()
	}
}

// Fetch asks peer p for req and calls put with every block, in stream
// order, after checking that it is the root or linked from a block
// accepted earlier on this stream and that its bytes hash to its CID. A
// block failing either check ends the fetch with an error naming p and
// wrapping block.ErrCorrupt or ErrUnexpectedBlock; it never reaches put. A put
// error ends the fetch with that error. put owns the block it is given and
// calls its Release once done with the bytes. The stream is read one block at a
// time: memory does not grow with the closure.
func Fetch(ctx context.Context, h host.Host, p peer.ID, req Request, links LinkFunc, put func(Verified) error) (Stats, error) {
	var st Stats
	if err := req.validate(); err != nil {
		return st, err
	}
	s, err := h.NewStream(ctx, p, ProtocolID)
	if err != nil {
		return st, fmt.Errorf("carstream: open stream to %s: %w", p, err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	fail := func(err error) (Stats, error) {
		s.Reset()
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return st, fmt.Errorf("carstream: peer %s, root %s: %w", p, req.Root, err)
	}
	if err := writeRequest(s, req); err != nil {
		return fail(err)
	}
	if err := s.CloseWrite(); err != nil {
		return fail(err)
	}
	// A small buffer: it serves the varints and CIDs, while a block's
	// bytes (up to 1 MiB, usually 256 KiB) mostly bypass it, read by
	// io.ReadFull straight from the stream into the block's own buffer
	// (bufio hands a read of at least its size to the reader below when
	// it is empty), one copy fewer per byte than through a 1 MiB buffer.
	br := bufio.NewReaderSize(s, streamBuffer)
	status, err := br.ReadByte()
	if err != nil {
		return fail(fmt.Errorf("%w: read status: %v", ErrProtocol, err))
	}
	if status != StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(br, maxMessage))
		if status == StatusNotFound {
			return fail(fmt.Errorf("%w (%s)", ErrNotFound, msg))
		}
		return fail(fmt.Errorf("%w: status %d: %s", ErrProtocol, status, msg))
	}
	// go-car reads the header (and no further: br is an io.ByteReader);
	// the sections are read here, each into a pooled buffer that the
	// store's writer hands back (Verified.Release), so a closure's bytes
	// do not all pass through the heap (node/p2p/NOTES.md, "Allocation").
	cr, err := car.NewBlockReader(br, car.WithTrustedCAR(true), car.MaxAllowedSectionSize(MaxBlockSize))
	if err != nil {
		return fail(fmt.Errorf("%w: car header: %v", ErrProtocol, err))
	}
	if cr.Version != 1 {
		return fail(fmt.Errorf("%w: CAR version %d, want 1", ErrProtocol, cr.Version))
	}
	if len(cr.Roots) != 1 || cr.Roots[0] != req.Root {
		return fail(fmt.Errorf("%w: car roots %v, asked for %s", ErrProtocol, cr.Roots, req.Root))
	}
	// The stream is read in one goroutine (which checks that each block is
	// expected and extracts its links), the blocks are hashed by a pool of
	// verifiers on every core, and handed to put in stream order, each
	// only after every earlier block passed: a block after a bad one never
	// reaches put, and neither does anything linked only from a bad one.
	type job struct {
		sec   section
		chk   block.Checked // set with err before done is closed
		links []cid.Cid
		err   error
		done  chan struct{}
	}
	jobs := make(chan *job, verifyWindow)  // to the verifiers
	order := make(chan *job, verifyWindow) // to the emitter, in stream order
	readErr := make(chan error, 1)
	rctx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	for range verifiers {
		go func() {
			for j := range jobs {
				j.chk, j.err = block.Check(j.sec.c, j.sec.data)
				close(j.done)
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		expected := map[cid.Cid]struct{}{req.Root: {}}
		for n := 1; ; n++ {
			sec, err := readSection(br)
			if errors.Is(err, io.EOF) {
				readErr <- nil
				return
			}
			if err != nil {
				readErr <- fmt.Errorf("block %d: %w", n, err)
				return
			}
			c := sec.c
			if _, ok := expected[c]; !ok {
				sec.release()
				readErr <- fmt.Errorf("%w: %s", ErrUnexpectedBlock, c)
				return
			}
			// Links of bytes not verified yet: if the block turns out bad,
			// the emitter stops at it and nothing after it is used.
			ls, err := links(c, sec.data)
			if err != nil {
				sec.release()
				readErr <- fmt.Errorf("%w: links of %s: %v", block.ErrCorrupt, c, err)
				return
			}
			delete(expected, c)
			for _, l := range ls {
				expected[l] = struct{}{}
			}
			j := &job{sec: sec, links: ls, done: make(chan struct{})}
			select {
			case order <- j:
			case <-rctx.Done():
				sec.release()
				readErr <- rctx.Err()
				return
			}
			jobs <- j
		}
	}()
	for j := range order {
		<-j.done
		if j.err != nil {
			stopRead()
			return fail(j.err)
		}
		size := len(j.sec.data)
		if err := put(Verified{Block: j.chk, Links: j.links, release: j.sec.release}); err != nil {
			stopRead()
			s.Reset()
			return st, err
		}
		st.Blocks++
		st.Bytes += int64(size)
	}
	if err := <-readErr; err != nil {
		return fail(err)
	}
	return st, nil
}

// streamBuffer is the read buffer of a closure stream (see Fetch).
const streamBuffer = 32 << 10

// verifyWindow bounds the blocks of one stream read but not yet handed to
// put (at most 2 MiB each); verifiers hash them in parallel.
const verifyWindow = 16

var verifiers = max(2, runtime.GOMAXPROCS(0))
