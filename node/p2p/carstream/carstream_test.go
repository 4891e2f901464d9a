package carstream

import (
	"bytes"
	"errors"
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
