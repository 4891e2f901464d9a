package carstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	blocks "github.com/ipfs/go-block-format"
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

// Verified is a block that passed every check, with its links.
type Verified struct {
	Block blocks.Block
	Links []cid.Cid
}

// Fetch asks peer p for req and calls put with every block, in stream
// order, after checking that it is the root or linked from a block
// accepted earlier on this stream and that its bytes hash to its CID. A
// block failing either check ends the fetch with an error naming p and
// wrapping block.ErrCorrupt or ErrUnexpectedBlock; it never reaches put. A put
// error ends the fetch with that error. The stream is read one block at a
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
	br := bufio.NewReaderSize(s, 1<<20)
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
	cr, err := car.NewBlockReader(br, car.WithTrustedCAR(true), car.MaxAllowedSectionSize(MaxBlockSize))
	if err != nil {
		return fail(fmt.Errorf("%w: car header: %v", ErrProtocol, err))
	}
	if len(cr.Roots) != 1 || cr.Roots[0] != req.Root {
		return fail(fmt.Errorf("%w: car roots %v, asked for %s", ErrProtocol, cr.Roots, req.Root))
	}
	expected := map[cid.Cid]struct{}{req.Root: {}}
	for {
		blk, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return fail(fmt.Errorf("%w: block %d: %v", ErrProtocol, st.Blocks+1, err))
		}
		c := blk.Cid()
		if _, ok := expected[c]; !ok {
			return fail(fmt.Errorf("%w: %s", ErrUnexpectedBlock, c))
		}
		if err := block.Verify(c, blk.RawData()); err != nil {
			return fail(err)
		}
		ls, err := links(c, blk.RawData())
		if err != nil {
			return fail(fmt.Errorf("%w: links of %s: %v", block.ErrCorrupt, c, err))
		}
		delete(expected, c)
		for _, l := range ls {
			expected[l] = struct{}{}
		}
		if err := put(Verified{Block: blk, Links: ls}); err != nil {
			s.Reset()
			return st, err
		}
		st.Blocks++
		st.Bytes += int64(len(blk.RawData()))
	}
}
