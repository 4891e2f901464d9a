package carstream

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	cid "github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolID is the libp2p protocol of closure streams.
const ProtocolID protocol.ID = "/buildchain/car/1"

// Response status bytes.
const (
	StatusOK       byte = 0
	StatusNotFound byte = 1 // the server does not hold the root
	StatusError    byte = 2 // bad request or server failure; a message follows
)

const (
	// maxRequest bounds a request line.
	maxRequest = 4 << 10
	// maxMessage bounds an error message.
	maxMessage = 1 << 10
	// MaxBlockSize bounds one block on the wire: bitswap's limit (2 MiB)
	// plus room for the CID. A larger section is a protocol error.
	MaxBlockSize = 2<<20 + 128
)

var (
	// ErrUnexpectedBlock: a block not linked from the stream's earlier
	// blocks (nor the root).
	ErrUnexpectedBlock = errors.New("block not linked from the requested DAG")
	// ErrNotFound: the peer does not hold the root.
	ErrNotFound = errors.New("peer does not hold the root")
	// ErrProtocol: a malformed request or response.
	ErrProtocol = errors.New("car stream protocol error")
)

// LinkFunc returns the CIDs a block refers to: the closure is every block
// reachable from the root through it. The client's must name at least every
// link the server's names (best: links the block's bytes name, which both
// ends see alike), or the client refuses the server's blocks as unexpected.
// It must not keep data or return anything that shares its memory (a CID
// decoded from bytes is a copy): both ends reuse the buffer once the block
// is sent or stored.
type LinkFunc func(c cid.Cid, data []byte) ([]cid.Cid, error)

// Request asks for part Part of Parts of the closure of Root.
type Request struct {
	Root  cid.Cid `json:"-"`
	Part  int     `json:"part"`
	Parts int     `json:"parts"`
}

type wireRequest struct {
	Root  string `json:"root"`
	Part  int    `json:"part"`
	Parts int    `json:"parts"`
}

func (r Request) validate() error {
	if !r.Root.Defined() {
		return fmt.Errorf("%w: undefined root", ErrProtocol)
	}
	if r.Parts < 1 || r.Parts > 256 || r.Part < 0 || r.Part >= r.Parts {
		return fmt.Errorf("%w: part %d of %d", ErrProtocol, r.Part, r.Parts)
	}
	return nil
}

func writeRequest(w io.Writer, r Request) error {
	b, err := json.Marshal(wireRequest{Root: r.Root.String(), Part: r.Part, Parts: r.Parts})
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func readRequest(r io.Reader) (Request, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxRequest), 512).ReadBytes('\n')
	if err != nil {
		return Request{}, fmt.Errorf("%w: read request: %v", ErrProtocol, err)
	}
	var wr wireRequest
	if err := json.Unmarshal(line, &wr); err != nil {
		return Request{}, fmt.Errorf("%w: request: %v", ErrProtocol, err)
	}
	c, err := cid.Decode(wr.Root)
	if err != nil {
		return Request{}, fmt.Errorf("%w: request root: %v", ErrProtocol, err)
	}
	req := Request{Root: c, Part: wr.Part, Parts: wr.Parts}
	return req, req.validate()
}

// inPart reports whether a block without links belongs to part k of n.
func inPart(c cid.Cid, k, n int) bool {
	if n == 1 {
		return true
	}
	h := c.Hash()
	return int(h[len(h)-1])%n == k
}

// writeCARHeader writes a CARv1 header naming root.
func writeCARHeader(w io.Writer, root cid.Cid) error {
	nd, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "roots", qp.List(1, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, qp.Link(cidlink.Link{Cid: root}))
		}))
		qp.MapEntry(ma, "version", qp.Int(1))
	})
	if err != nil {
		return err
	}
	var hdr []byte
	buf := &byteWriter{}
	if err := dagcbor.Encode(nd, buf); err != nil {
		return err
	}
	hdr = binary.AppendUvarint(hdr, uint64(len(buf.b)))
	hdr = append(hdr, buf.b...)
	_, err = w.Write(hdr)
	return err
}

type byteWriter struct{ b []byte }

func (w *byteWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// section is one CARv1 block section read by readSection: data lies in a
// pooled buffer (buf, nil for an oversized section given its own) until
// release.
type section struct {
	c    cid.Cid
	data []byte
	buf  *[]byte
}

// release returns the section's buffer to the pool; data must not be used
// afterwards.
func (s section) release() { putBlockBuffer(s.buf) }

// smallSection: a section up to this size gets a buffer of its own size
// rather than a pooled one for a whole 256 KiB block. A closure of small
// files would otherwise pin 260 KiB per queued block, and the heap bytes
// that drive the collector come from the large blocks.
const smallSection = 32 << 10

// readSection reads the next CARv1 block section from r (the stream after
// its header) into a pooled buffer. The end of the stream at a section
// boundary is io.EOF; anything malformed is ErrProtocol. A section over
// MaxBlockSize is refused before anything is allocated for it.
func readSection(r *bufio.Reader) (section, error) {
	l, err := binary.ReadUvarint(r)
	if err == io.EOF {
		return section{}, io.EOF
	}
	if err != nil {
		return section{}, fmt.Errorf("%w: section length: %v", ErrProtocol, err)
	}
	if l == 0 || l > MaxBlockSize {
		return section{}, fmt.Errorf("%w: section of %d bytes (1 to %d allowed)", ErrProtocol, l, MaxBlockSize)
	}
	s := section{}
	var b []byte
	if l <= smallSection {
		b = make([]byte, l)
	} else if bp := blockBuffers.Get().(*[]byte); uint64(cap(*bp)) >= l {
		s.buf, b = bp, (*bp)[:l]
	} else {
		blockBuffers.Put(bp)
		b = make([]byte, l)
	}
	if _, err := io.ReadFull(r, b); err != nil {
		s.release()
		return section{}, fmt.Errorf("%w: section of %d bytes: %v", ErrProtocol, l, err)
	}
	n, c, err := cid.CidFromBytes(b) // the CID is a copy: it outlives the buffer
	if err != nil {
		s.release()
		return section{}, fmt.Errorf("%w: section CID: %v", ErrProtocol, err)
	}
	s.c, s.data = c, b[n:]
	return s, nil
}

// writeSection writes one CARv1 block section.
func writeSection(w io.Writer, c cid.Cid, data []byte) error {
	var pre [binary.MaxVarintLen64]byte
	cb := c.Bytes()
	n := binary.PutUvarint(pre[:], uint64(len(cb)+len(data)))
	if _, err := w.Write(pre[:n]); err != nil {
		return err
	}
	if _, err := w.Write(cb); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}
