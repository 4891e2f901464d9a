package derivation

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	cid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// fuzzSeeds are the example derivations (templates filled with a fixed CID) plus the canonical
// encodings of a plain, a ref-carrying and a fixed-output derivation.
func fuzzSeeds(f *testing.F) {
	f.Helper()
	tools := fuzzCID(f, []byte("tools"))
	ms, _ := filepath.Glob("../../examples/*/*.json")
	for _, m := range ms {
		data, err := os.ReadFile(m)
		if err != nil {
			f.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("@bootstrap@"), []byte(tools.String()))
		data = bytes.ReplaceAll(data, []byte("@system@"), []byte("x86_64-linux"))
		f.Add(data)
	}
	for _, d := range []*Derivation{
		{Name: "plain", System: "x86_64-linux", Builder: StorePrefix + tools.String() + "/bin/sh", Args: []string{"-c", "echo > $out"},
			Env: map[string]string{"A": "b"}, Inputs: []Input{{CID: tools}}, Outputs: []string{"out"}},
		{Name: "ref", System: "x86_64-linux", Builder: StorePrefix + tools.String() + "/bin/sh",
			Args:   []string{"-c", "cp " + Ref(fuzzCIDOf(f, "dag-json", "drv"), "out") + " $out"},
			Inputs: []Input{{CID: tools}, {Drv: fuzzCIDOf(f, "dag-json", "drv"), Output: "out"}}, Outputs: []string{"out"}},
	} {
		b, err := d.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func fuzzCID(f testing.TB, data []byte) cid.Cid {
	sum, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		f.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, sum)
}

func fuzzCIDOf(f testing.TB, _, data string) cid.Cid {
	c, err := CIDOf([]byte(data))
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// FuzzDecode: Parse accepts only valid derivations, and what it accepts has one canonical
// encoding that Decode accepts and that decodes to the same derivation; Decode accepts exactly
// the canonical bytes. Resolving every ref to one output gives a valid, resolved derivation.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	out := fuzzCID(f, []byte("output"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			if _, derr := Decode(data); derr == nil {
				t.Fatalf("Decode accepts what Parse rejects (%v)", err)
			}
			return
		}
		canon, err := d.Encode()
		if err != nil {
			t.Fatalf("valid derivation does not encode: %v", err)
		}
		d2, err := Decode(canon)
		if err != nil {
			t.Fatalf("canonical encoding does not decode: %v", err)
		}
		again, err := d2.Encode()
		if err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("encoding not stable: %v\n%q\n%q", err, canon, again)
		}
		if _, err := Decode(data); err == nil && !bytes.Equal(data, canon) {
			t.Fatalf("Decode accepted non-canonical bytes")
		}
		c, err := CIDOf(canon)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeBlock(c, canon); err != nil {
			t.Fatalf("DecodeBlock of its own CID: %v", err)
		}
		outputs := map[string]cid.Cid{}
		for _, in := range d.Refs() {
			outputs[in.String()] = out
		}
		r, err := d.Resolve(outputs)
		if err != nil {
			return // e.g. a resolved path longer than allowed: an error, not a panic
		}
		if !r.Resolved() {
			t.Fatalf("Resolve left refs: %+v", r.Inputs)
		}
		if _, _, err := r.Block(); err != nil {
			t.Fatalf("resolved derivation has no block: %v", err)
		}
	})
}
