package storefs

import (
	"bytes"
	"crypto/sha512"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	ipld "github.com/ipfs/go-ipld-format"
	"google.golang.org/protobuf/encoding/protowire"
)

var zeroTime time.Time

// SelfRefLen is the length of a store CID string (CIDv1, base32, sha2-256,
// dag-pb or raw), hence of a self-reference placeholder: outputs are built
// under /ipfs/store/{placeholder} and later live under /ipfs/store/{cid}.
const SelfRefLen = 59

// SelfRefFiller is what each placeholder occurrence is hashed as, so the CID
// is a hash modulo self-references and does not depend on the placeholder.
var SelfRefFiller = bytes.Repeat([]byte{'0'}, SelfRefLen)

// selfRefField is the UnixFS Data field number holding the self-reference
// offsets. Protobuf readers (kubo, boxo, helia) skip unknown fields, so other
// IPFS implementations read such a file with the filler in place; the field
// lives in the file's root block, so the root CID covers the offsets.
const selfRefField protowire.Number = 1001

// Placeholder returns a deterministic SelfRefLen-byte placeholder derived
// from seed (e.g. the derivation CID), shaped like a CID so tools that
// validate paths accept it, and unlikely to occur by chance.
func Placeholder(seed string) []byte {
	sum := sha512.Sum512([]byte("buildchain-self-ref\x00" + seed))
	enc := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))
	return []byte(("bafy" + enc)[:SelfRefLen])
}

// SelfRefs lists where a file refers to its own output root.
type SelfRefs struct {
	Len     int      // bytes per occurrence (SelfRefLen)
	Offsets []uint64 // ascending byte offsets in the file
}

// appendSelfRefs returns data with r appended as the selfRefField: the length, then the offsets.
func appendSelfRefs(data []byte, r SelfRefs) []byte {
	payload := protowire.AppendVarint(nil, uint64(r.Len))
	return appendExtField(data, selfRefField, appendOffsets(payload, r.Offsets))
}

// appendOffsets appends ascending offsets as varint deltas (the first from 0), the encoding of
// both self-reference fields.
func appendOffsets(payload []byte, offsets []uint64) []byte {
	prev := uint64(0)
	for _, o := range offsets {
		payload = protowire.AppendVarint(payload, o-prev)
		prev = o
	}
	return payload
}

// appendExtField returns a copy of a node's UnixFS Data with one of our extension fields
// (selfRefField, nameRefField) appended; unixfsExtField reads it back.
func appendExtField(data []byte, field protowire.Number, payload []byte) []byte {
	out := append([]byte(nil), data...)
	out = protowire.AppendTag(out, field, protowire.BytesType)
	return protowire.AppendBytes(out, payload)
}

// attachSelfRefs records r in the root node of a file. A raw single-leaf
// file is wrapped in a dag-pb File node linking the leaf.
func attachSelfRefs(nd ipld.Node, r SelfRefs) (ipld.Node, error) {
	switch n := nd.(type) {
	case *merkledag.RawNode:
		fsn := unixfs.NewFSNode(unixfs.TFile)
		fsn.AddBlockSize(uint64(len(n.RawData())))
		data, err := fsn.GetBytes()
		if err != nil {
			return nil, err
		}
		pn := merkledag.NodeWithData(appendSelfRefs(data, r))
		if err := pn.SetCidBuilder(cidBuilder); err != nil {
			return nil, err
		}
		if err := pn.AddNodeLink("", n); err != nil {
			return nil, err
		}
		return pn, nil
	case *merkledag.ProtoNode:
		pn := n.Copy().(*merkledag.ProtoNode)
		pn.SetData(appendSelfRefs(n.Data(), r))
		return pn, nil
	default:
		return nil, fmt.Errorf("self-references: unexpected node type %T", nd)
	}
}

// FileSelfRefs returns the self-references recorded in a file's root node
// (none for raw leaves and ordinary UnixFS files).
func FileSelfRefs(nd ipld.Node) (SelfRefs, error) {
	payload, ok, err := unixfsExtField(nd, selfRefField)
	if err != nil || !ok {
		return SelfRefs{}, err
	}
	return decodeSelfRefs(payload)
}

// unixfsExtField returns the payload of one of our extension fields in the
// UnixFS Data of a dag-pb node (ok is false when absent or for raw nodes).
func unixfsExtField(nd ipld.Node, field protowire.Number) (payload []byte, ok bool, err error) {
	pn, isPB := nd.(*merkledag.ProtoNode)
	if !isPB {
		return nil, false, nil
	}
	b := pn.Data()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false, fmt.Errorf("unixfs data: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == field && typ == protowire.BytesType {
			payload, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false, fmt.Errorf("unixfs field %d: %w", field, protowire.ParseError(m))
			}
			return payload, true, nil
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, false, fmt.Errorf("unixfs data: %w", protowire.ParseError(m))
		}
		b = b[m:]
	}
	return nil, false, nil
}

func decodeSelfRefs(p []byte) (SelfRefs, error) {
	l, n := protowire.ConsumeVarint(p)
	if n < 0 || l == 0 || l > 4096 {
		return SelfRefs{}, errors.New("self-refs field: bad length")
	}
	p = p[n:]
	r := SelfRefs{Len: int(l)}
	prev := uint64(0)
	for len(p) > 0 {
		d, n := protowire.ConsumeVarint(p)
		if n < 0 {
			return SelfRefs{}, errors.New("self-refs field: bad offset")
		}
		if len(r.Offsets) > 0 && d < l {
			return SelfRefs{}, errors.New("self-refs field: overlapping offsets")
		}
		prev += d
		r.Offsets = append(r.Offsets, prev)
		p = p[n:]
	}
	return r, nil
}

// Patch writes value over each self-reference that overlaps buf, where buf
// holds the file's bytes starting at offset off. value must be r.Len bytes:
// readers refuse a file whose recorded length cannot hold its root (the field
// comes from a block a peer may have made); Patch leaves buf alone then
// rather than index past value.
func (r SelfRefs) Patch(buf []byte, off int64, value []byte) {
	if len(r.Offsets) == 0 || len(buf) == 0 || len(value) != r.Len {
		return
	}
	end := off + int64(len(buf))
	for _, o := range r.Offsets {
		so := int64(o)
		if so >= end {
			break
		}
		if so+int64(r.Len) <= off {
			continue
		}
		// Overlap of [so, so+Len) with [off, end).
		for i := max(so, off); i < min(so+int64(r.Len), end); i++ {
			buf[i-off] = value[i-so]
		}
	}
}

// selfRefScanner replaces each placeholder occurrence in a stream by the
// filler and records its offset. It holds back len(placeholder)-1 bytes so
// occurrences spanning read boundaries (and chunk boundaries) are found.
type selfRefScanner struct {
	r          io.Reader
	ph         []byte
	buf        []byte
	base       int64 // file offset of buf[0]
	searchFrom int
	eof        bool
	err        error
	offsets    []uint64
}

func newSelfRefScanner(r io.Reader, ph []byte) *selfRefScanner {
	return &selfRefScanner{r: r, ph: ph}
}

func (s *selfRefScanner) safeLen() int {
	if s.eof {
		return len(s.buf)
	}
	return max(s.searchFrom, len(s.buf)-len(s.ph)+1, 0)
}

func (s *selfRefScanner) Read(p []byte) (int, error) {
	for {
		if n := s.safeLen(); n > 0 {
			n = copy(p, s.buf[:n])
			s.buf = s.buf[n:]
			s.base += int64(n)
			s.searchFrom = max(s.searchFrom-n, 0)
			return n, nil
		}
		if s.eof {
			if s.err != nil {
				return 0, s.err
			}
			return 0, io.EOF
		}
		if cap(s.buf)-len(s.buf) < 64<<10 {
			nb := make([]byte, len(s.buf), len(s.buf)+256<<10)
			copy(nb, s.buf)
			s.buf = nb
		}
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.err = err
			}
		}
		for {
			i := bytes.Index(s.buf[s.searchFrom:], s.ph)
			if i < 0 {
				break
			}
			pos := s.searchFrom + i
			copy(s.buf[pos:], SelfRefFiller[:len(s.ph)])
			s.offsets = append(s.offsets, uint64(s.base)+uint64(pos))
			s.searchFrom = pos + len(s.ph)
		}
	}
}
