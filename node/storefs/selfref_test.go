package storefs

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/ipfs/boxo/ipld/merkledag"
	ipld "github.com/ipfs/go-ipld-format"
)

// TestSelfRefScanner: occurrences at the start, the end, back to back and
// across every read boundary are replaced and recorded; Patch undoes it
// for any window.
func TestSelfRefScanner(t *testing.T) {
	ph := Placeholder("scan")
	real := []byte("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")
	if len(real) != SelfRefLen {
		t.Fatal("bad test CID")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		var src []byte
		var want []uint64
		if trial%2 == 0 {
			want = append(want, 0)
			src = append(src, ph...)
		}
		for k := 0; k < 5; k++ {
			filler := make([]byte, rng.IntN(3)*rng.IntN(70000))
			for i := range filler {
				filler[i] = byte('a' + rng.IntN(26))
			}
			src = append(src, filler...)
			want = append(want, uint64(len(src)))
			src = append(src, ph...)
		}
		var r io.Reader = newSelfRefScanner(bytes.NewReader(src), ph)
		sc := r.(*selfRefScanner)
		if trial%3 == 0 {
			r = iotest.OneByteReader(r)
		} else if trial%3 == 1 {
			r = iotest.HalfReader(r)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(src) || bytes.Contains(got, ph) {
			t.Fatalf("trial %d: placeholder left or length changed", trial)
		}
		if len(sc.offsets) != len(want) {
			t.Fatalf("trial %d: offsets %v want %v", trial, sc.offsets, want)
		}
		for i := range want {
			if sc.offsets[i] != want[i] {
				t.Fatalf("trial %d: offsets %v want %v", trial, sc.offsets, want)
			}
		}
		refs := SelfRefs{Len: len(ph), Offsets: sc.offsets}
		// Round trip through the encoding.
		dec, err := FileSelfRefs(mustAttach(t, got, refs))
		if err != nil || len(dec.Offsets) != len(want) || dec.Len != len(ph) {
			t.Fatalf("decode: %+v %v", dec, err)
		}
		expect := bytes.ReplaceAll(src, ph, real)
		for w := 0; w < 20; w++ {
			off := rng.IntN(len(got))
			end := off + rng.IntN(len(got)-off+1)
			buf := append([]byte(nil), got[off:end]...)
			refs.Patch(buf, int64(off), real)
			if !bytes.Equal(buf, expect[off:end]) {
				t.Fatalf("trial %d: patch of [%d,%d) wrong", trial, off, end)
			}
		}
	}
}

func mustAttach(t *testing.T, data []byte, r SelfRefs) ipldNode {
	t.Helper()
	nd, err := attachSelfRefs(rawNode(data), r)
	if err != nil {
		t.Fatal(err)
	}
	return nd
}

type ipldNode = ipld.Node

func rawNode(b []byte) ipld.Node { return merkledag.NewRawNode(b) }
