package storefs

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ipfs/boxo/ipld/merkledag"
	ipld "github.com/ipfs/go-ipld-format"
	"google.golang.org/protobuf/encoding/protowire"
)

// nameRefField is the UnixFS Data field number, in a directory's root block
// (the directory node, or the root shard of a HAMT directory), listing the
// entries whose names contain self-references. Like selfRefField it is
// skipped by other IPFS implementations, which list such an entry under its
// stored name (the placeholder hashed as SelfRefFiller); the root CID covers
// the field, so a peer cannot move a reference without changing the CID.
const nameRefField protowire.Number = 1002

// NameRefs lists the entries of one directory whose names refer to the
// output root: each stored link name and the offsets of the references in
// it. Readers show the name with the root CID written at those offsets, the
// way file contents and symlink targets are read (a symlink to
// $out/lib-$out.so then finds its target).
type NameRefs struct {
	Len   int       // bytes per occurrence (SelfRefLen)
	Names []NameRef // ascending by Stored
}

// NameRef is one entry name with self-references.
type NameRef struct {
	Stored  string   // the link name in the DAG (references as SelfRefFiller)
	Offsets []uint64 // ascending byte offsets of the references in it
}

// scanName replaces each occurrence of ph in name (an entry name or a
// symlink target) by the filler and returns the stored string and the
// offsets (none when it has no reference).
func scanName(name string, ph []byte) (string, []uint64) {
	if ph == nil || !strings.Contains(name, string(ph)) {
		return name, nil
	}
	b := []byte(name)
	var offs []uint64
	for from := 0; ; {
		i := bytes.Index(b[from:], ph)
		if i < 0 {
			break
		}
		copy(b[from+i:], SelfRefFiller[:len(ph)])
		offs = append(offs, uint64(from+i))
		from += i + len(ph)
	}
	return string(b), offs
}

// appendNameRefs returns data with r appended as the nameRefField: the length, then per name
// the stored name, the count of its offsets and the offsets (appendOffsets).
func appendNameRefs(data []byte, r NameRefs) []byte {
	var payload []byte
	payload = protowire.AppendVarint(payload, uint64(r.Len))
	for _, n := range r.Names {
		payload = protowire.AppendBytes(payload, []byte(n.Stored))
		payload = protowire.AppendVarint(payload, uint64(len(n.Offsets)))
		payload = appendOffsets(payload, n.Offsets)
	}
	return appendExtField(data, nameRefField, payload)
}

// attachNameRefs records r in a directory's root node.
func attachNameRefs(nd ipld.Node, r NameRefs) (ipld.Node, error) {
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return nil, fmt.Errorf("self-references in names: directory node is %T", nd)
	}
	pn = pn.Copy().(*merkledag.ProtoNode)
	pn.SetData(appendNameRefs(pn.Data(), r))
	return pn, nil
}

var errBadNameRefs = errors.New("malformed self-reference names field")

// DirNameRefs returns the name self-references recorded in a directory's
// root node (none for ordinary UnixFS directories).
func DirNameRefs(nd ipld.Node) (NameRefs, error) {
	p, ok, err := unixfsExtField(nd, nameRefField)
	if err != nil || !ok {
		return NameRefs{}, err
	}
	l, n := protowire.ConsumeVarint(p)
	if n < 0 || l == 0 || l > 4096 {
		return NameRefs{}, fmt.Errorf("%w: bad length", errBadNameRefs)
	}
	p = p[n:]
	r := NameRefs{Len: int(l)}
	for len(p) > 0 {
		name, n := protowire.ConsumeBytes(p)
		if n < 0 {
			return NameRefs{}, fmt.Errorf("%w: bad name", errBadNameRefs)
		}
		p = p[n:]
		cnt, n := protowire.ConsumeVarint(p)
		if n < 0 || cnt == 0 || cnt > uint64(len(name)) {
			return NameRefs{}, fmt.Errorf("%w: bad count for %q", errBadNameRefs, name)
		}
		p = p[n:]
		e := NameRef{Stored: string(name)}
		prev := uint64(0)
		for k := range cnt {
			d, n := protowire.ConsumeVarint(p)
			if n < 0 || k > 0 && d < l {
				return NameRefs{}, fmt.Errorf("%w: bad offset in %q", errBadNameRefs, name)
			}
			p = p[n:]
			prev += d
			if prev+l > uint64(len(name)) {
				return NameRefs{}, fmt.Errorf("%w: offset %d outside %q", errBadNameRefs, prev, name)
			}
			e.Offsets = append(e.Offsets, prev)
		}
		if len(r.Names) > 0 && r.Names[len(r.Names)-1].Stored >= e.Stored {
			return NameRefs{}, fmt.Errorf("%w: names not in order", errBadNameRefs)
		}
		r.Names = append(r.Names, e)
	}
	return r, nil
}

// Shown returns the name readers see for the stored link name when the
// directory is reached from the root whose CID string is root.
func (r NameRefs) Shown(stored string, root []byte) string {
	i, ok := slices.BinarySearchFunc(r.Names, stored, func(e NameRef, s string) int { return strings.Compare(e.Stored, s) })
	if !ok || len(root) != r.Len {
		return stored
	}
	b := []byte(stored)
	SelfRefs{Len: r.Len, Offsets: r.Names[i].Offsets}.Patch(b, 0, root)
	return string(b)
}

// Stored maps a name a reader asked for to the link name to look up; ok is
// false for a stored name with references asked for as such (readers never
// see it, so it does not resolve either).
func (r NameRefs) Stored(shown string, root []byte) (string, bool) {
	if len(r.Names) == 0 {
		return shown, true
	}
	hidden := false
	for _, e := range r.Names {
		if len(e.Stored) != len(shown) {
			continue
		}
		if r.Shown(e.Stored, root) == shown {
			return e.Stored, true
		}
		hidden = hidden || e.Stored == shown
	}
	return shown, !hidden
}
