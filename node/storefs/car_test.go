package storefs

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-car/v2"
)

func mustBlock(t *testing.T, c cid.Cid, data []byte) blocks.Block {
	t.Helper()
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCARRoundTrip(t *testing.T) {
	src := openTemp(t)
	dir := filepath.Join(t.TempDir(), "src")
	files := writeTree(t, dir)
	ctx := context.Background()
	root, err := src.AddPath(ctx, dir, AddOptions{PreserveMode: true})
	if err != nil {
		t.Fatal(err)
	}
	var carBuf bytes.Buffer
	if err := src.ExportCAR(ctx, root, &carBuf); err != nil {
		t.Fatal(err)
	}
	// go-car reads it back with our root.
	br, err := car.NewBlockReader(bytes.NewReader(carBuf.Bytes()))
	if err != nil || len(br.Roots) != 1 || br.Roots[0] != root || br.Version != 1 {
		t.Fatalf("car header: %v %v", br, err)
	}
	// A stream (stdin pipe) is spooled first; a seekable input is not.
	streamed := openTemp(t)
	roots, err := streamed.ImportCAR(ctx, struct{ io.Reader }{bytes.NewReader(carBuf.Bytes())})
	if err != nil || len(roots) != 1 || roots[0] != root {
		t.Fatalf("import from a stream: %v %v", roots, err)
	}
	dst := openTemp(t)
	roots, err = dst.ImportCAR(ctx, bytes.NewReader(carBuf.Bytes()))
	if err != nil || len(roots) != 1 || roots[0] != root {
		t.Fatalf("import: %v %v", roots, err)
	}
	for p, want := range files {
		var b bytes.Buffer
		if err := dst.Cat(ctx, root, p, &b); err != nil || !bytes.Equal(b.Bytes(), want) {
			t.Fatalf("%s after import: %v", p, err)
		}
	}
	pins, _ := dst.ListPins()
	if len(pins) != 1 || pins[0].CID != root {
		t.Fatalf("import did not temp-pin the root: %+v", pins)
	}
	// Closure works through the refs index written at import.
	cl, err := dst.Closure(root)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := src.Closure(root)
	if len(cl) != len(all) {
		t.Fatalf("closure %d vs %d", len(cl), len(all))
	}
}

func TestCARBadBlocksImportNothing(t *testing.T) {
	src := openTemp(t)
	dir := filepath.Join(t.TempDir(), "src")
	writeTree(t, dir)
	ctx := context.Background()
	root, err := src.AddPath(ctx, dir, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var carBuf bytes.Buffer
	if err := src.ExportCAR(ctx, root, &carBuf); err != nil {
		t.Fatal(err)
	}
	good := carBuf.Bytes()
	// Flip a byte near the end (inside the last block's data).
	bad := append([]byte(nil), good...)
	bad[len(bad)-3] ^= 0xff
	cases := map[string][]byte{
		"flipped byte": bad,
		"truncated":    good[:len(good)-100],
		"garbage":      []byte("this is not a car file at all"),
		"empty":        nil,
	}
	for name, data := range cases {
		dst := openTemp(t)
		snap := storeSnapshot(t, dst)
		_, err := dst.ImportCAR(ctx, bytes.NewReader(data))
		if err == nil {
			t.Fatalf("%s: imported", name)
		}
		if !strings.Contains(err.Error(), "import car") {
			t.Fatalf("%s: unclear error %v", name, err)
		}
		if got := storeSnapshot(t, dst); got != snap {
			t.Fatalf("%s: store changed", name)
		}
		// Non-seekable input takes the spooling path.
		_, err = dst.ImportCAR(ctx, struct{ *bytes.Reader }{bytes.NewReader(data)})
		if err == nil {
			t.Fatalf("%s (stream): imported", name)
		}
		if got := storeSnapshot(t, dst); got != snap {
			t.Fatalf("%s (stream): store changed", name)
		}
	}
}
