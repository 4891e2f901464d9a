package carstream

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
)

// TestRequestRoundTripAndBadRequests: a request survives the wire; bad
// ones are ErrProtocol, never a panic or a huge allocation.
func TestRequestRoundTripAndBadRequests(t *testing.T) {
	root := blocks.NewBlock([]byte("root")).Cid()
	var buf bytes.Buffer
	want := Request{Root: root, Part: 1, Parts: 3}
	if err := writeRequest(&buf, want); err != nil {
		t.Fatal(err)
	}
	got, err := readRequest(&buf)
	if err != nil || got != want {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{
		"",
		"not json\n",
		`{"root":"bafy-not-a-cid","part":0,"parts":1}` + "\n",
		`{"root":"` + root.String() + `","part":3,"parts":3}` + "\n",
		`{"root":"` + root.String() + `","part":0,"parts":0}` + "\n",
		`{"root":"` + root.String() + `","part":-1,"parts":2}` + "\n",
		`{"root":"` + root.String() + `","part":0,"parts":1000}` + "\n",
		strings.Repeat("x", 10<<10) + "\n",
	} {
		if _, err := readRequest(strings.NewReader(bad)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%.40q: err = %v", bad, err)
		}
	}
}

// TestCARFraming: what the server writes is a CARv1 that go-car reads,
// with the root in the header and the blocks in order.
func TestCARFraming(t *testing.T) {
	a, b := blocks.NewBlock([]byte("first")), blocks.NewBlock([]byte("second"))
	var buf bytes.Buffer
	if err := writeCARHeader(&buf, a.Cid()); err != nil {
		t.Fatal(err)
	}
	for _, blk := range []blocks.Block{a, b} {
		if err := writeSection(&buf, blk.Cid(), blk.RawData()); err != nil {
			t.Fatal(err)
		}
	}
	br, err := car.NewBlockReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(br.Roots) != 1 || br.Roots[0] != a.Cid() {
		t.Fatalf("roots %v", br.Roots)
	}
	for _, want := range []blocks.Block{a, b} {
		got, err := br.Next()
		if err != nil || got.Cid() != want.Cid() || !bytes.Equal(got.RawData(), want.RawData()) {
			t.Fatalf("block: %v %v", got, err)
		}
	}
}

// TestInPart: the parts of n cover every data block exactly once.
func TestInPart(t *testing.T) {
	for i := range 200 {
		c := cid.NewCidV1(cid.Raw, blocks.NewBlock([]byte{byte(i), byte(i >> 8)}).Cid().Hash())
		n := 0
		for k := range 3 {
			if inPart(c, k, 3) {
				n++
			}
		}
		if n != 1 || !inPart(c, 0, 1) {
			t.Fatalf("%s in %d parts", c, n)
		}
	}
}

// TestReadSection: the client's section reader reads what writeSection
// wrote (CID and bytes, the buffer handed back on release), ends cleanly
// at a section boundary, and refuses a zero, oversized, truncated or
// CID-less section with ErrProtocol before allocating for an oversized one.
func TestReadSection(t *testing.T) {
	small := blocks.NewBlock([]byte("small"))
	usual := blocks.NewBlock(bytes.Repeat([]byte{5}, 256<<10))
	large := blocks.NewBlock(bytes.Repeat([]byte{7}, 300<<10))
	var buf bytes.Buffer
	sent := []blocks.Block{small, usual, large, usual, small}
	for _, b := range sent {
		if err := writeSection(&buf, b.Cid(), b.RawData()); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&buf)
	for i, want := range sent {
		sec, err := readSection(r)
		if err != nil || sec.c != want.Cid() || !bytes.Equal(sec.data, want.RawData()) {
			t.Fatalf("section %d: %v %v", i, sec.c, err)
		}
		// Only a usual block's section comes in a pooled buffer: a small
		// one gets its own size, a larger one its own buffer.
		if pooled := want == usual; (sec.buf != nil) != pooled {
			t.Fatalf("section %d of %d bytes: pooled %v, want %v", i, len(sec.data), sec.buf != nil, pooled)
		}
		sec.release()
	}
	if _, err := readSection(r); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}

	var one bytes.Buffer
	if err := writeSection(&one, small.Cid(), small.RawData()); err != nil {
		t.Fatal(err)
	}
	whole := one.Bytes()
	for name, bad := range map[string][]byte{
		"zero length":    {0},
		"over the limit": binary.AppendUvarint(nil, MaxBlockSize+1),
		"huge":           binary.AppendUvarint(nil, 1<<62),
		"truncated":      whole[:len(whole)-1],
		"cut varint":     {0x80},
		"not a CID":      append(binary.AppendUvarint(nil, 4), 0xff, 0xff, 0xff, 0xff),
		"CID cut short":  append(binary.AppendUvarint(nil, 2), 0x01, 0x55),
	} {
		if _, err := readSection(bufio.NewReader(bytes.NewReader(bad))); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
}
