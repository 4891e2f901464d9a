package storefs

import (
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/buildchain/buildchain/node/block"
)

// ReadBlockInto is GetBlock for hot read paths (fusefs): it reads block c
// into buf when the block fits (else into a new slice of its size) and
// checks its hash, returning the block's bytes. No bytes that do not hash
// to c are ever returned; a missing block gives ErrNotFound, a bad one
// block.ErrCorrupt. The caller can reuse buf once it is done with the
// result: nothing else keeps it.
func (s *Store) ReadBlockInto(c cid.Cid, buf []byte) ([]byte, error) {
	if !c.Defined() {
		return nil, errors.New("read block: undefined CID")
	}
	if d, ok := identityData(c); ok {
		if len(d) > cap(buf) {
			buf = make([]byte, len(d))
		}
		return append(buf[:0], d...), nil
	}
	p := s.BlockPath(c)
	// Raw system calls: os.Open registers every file with the network
	// poller, two wasted system calls per block on the FUSE read path.
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, c)
		}
		return nil, fmt.Errorf("read block %s: %w", c, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("read block %s: %w", c, err)
	}
	size := int(st.Size)
	if size > cap(buf) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	for n := 0; n < size; {
		k, err := unix.Pread(fd, buf[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read block %s: %w", c, err)
		}
		if k == 0 {
			return nil, fmt.Errorf("read block %s: %w: shorter than its %d bytes", c, block.ErrCorrupt, size)
		}
		n += k
	}
	if err := block.Verify(c, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// FileLeafData returns the file bytes that a verified block of a UnixFS
// file carries, as a sub-slice of data (no copy): all of a raw block, the
// UnixFS Data of a dag-pb File or Raw node. links reports whether a dag-pb
// node also has children (an internal node of the file's tree, whose bytes
// continue in them); the caller then reads those.
func FileLeafData(c cid.Cid, data []byte) (leaf []byte, links bool, err error) {
	switch c.Type() {
	case cid.Raw:
		return data, false, nil
	case cid.DagProtobuf:
	default:
		return nil, false, fmt.Errorf("file block %s: codec %#x is not raw or dag-pb", c, c.Type())
	}
	// PBNode: Links = 2 (repeated message), Data = 1 (bytes).
	var ufs []byte
	haveData := false
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false, fmt.Errorf("file block %s: %w", c, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.BytesType:
			links = true
		case num == 1 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false, fmt.Errorf("file block %s: %w", c, protowire.ParseError(m))
			}
			ufs, haveData = v, true
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, false, fmt.Errorf("file block %s: %w", c, protowire.ParseError(m))
		}
		b = b[m:]
	}
	if !haveData {
		return nil, false, fmt.Errorf("file block %s: dag-pb node without UnixFS data", c)
	}
	// UnixFS Data: Type = 1 (varint), Data = 2 (bytes).
	typeSeen := false
	for b := ufs; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false, fmt.Errorf("file block %s: unixfs: %w", c, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return nil, false, fmt.Errorf("file block %s: unixfs: %w", c, protowire.ParseError(m))
			}
			// Raw = 0, File = 2 (boxo's unixfs.pb Data_DataType).
			if v != 0 && v != 2 {
				return nil, false, fmt.Errorf("file block %s: UnixFS type %d is not a file", c, v)
			}
			typeSeen = true
		case num == 2 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false, fmt.Errorf("file block %s: unixfs: %w", c, protowire.ParseError(m))
			}
			leaf = v
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, false, fmt.Errorf("file block %s: unixfs: %w", c, protowire.ParseError(m))
		}
		b = b[m:]
	}
	if !typeSeen {
		return nil, false, fmt.Errorf("file block %s: UnixFS data without a type", c)
	}
	return leaf, links, nil
}
