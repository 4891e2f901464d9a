package storefs

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	chunk "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// memDAG collects what boxo's importer adds.
type memDAG struct{ blocks map[cid.Cid][]byte }

func (m *memDAG) Add(_ context.Context, nd ipld.Node) error {
	m.blocks[nd.Cid()] = append([]byte(nil), nd.RawData()...)
	return nil
}
func (m *memDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	for _, nd := range nds {
		_ = m.Add(ctx, nd)
	}
	return nil
}
func (m *memDAG) Get(context.Context, cid.Cid) (ipld.Node, error) { return nil, ipld.ErrNotFound{} }
func (m *memDAG) GetMany(context.Context, []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption)
	close(ch)
	return ch
}
func (m *memDAG) Remove(context.Context, cid.Cid) error       { return nil }
func (m *memDAG) RemoveMany(context.Context, []cid.Cid) error { return nil }

// boxoImport is the reference: boxo's own balanced layout with the same
// parameters (what the store used before fileimport.go, and what kubo runs).
func boxoImport(t *testing.T, data []byte, l fileLayout) (cid.Cid, map[cid.Cid][]byte) {
	t.Helper()
	m := &memDAG{blocks: map[cid.Cid][]byte{}}
	params := helpers.DagBuilderParams{Dagserv: m, RawLeaves: l.raw, Maxlinks: l.maxLinks, CidBuilder: cidBuilder}
	if !l.raw {
		params.FileMode = l.mode
	}
	db, err := params.New(chunk.NewSizeSplitter(bytes.NewReader(data), int64(l.chunkSize)))
	if err != nil {
		t.Fatal(err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		t.Fatal(err)
	}
	return nd.Cid(), m.blocks
}

// ourImport runs fileimport.go into a real store and reads back every block
// of the resulting DAG.
func ourImport(t *testing.T, s *Store, data []byte, l fileLayout) (cid.Cid, map[cid.Cid][]byte) {
	t.Helper()
	dag := s.newImportDAG()
	link, err := importFile(context.Background(), dag, bytes.NewReader(data), l, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := dag.commit(); err != nil {
		t.Fatal(err)
	}
	got := map[cid.Cid][]byte{}
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		b, err := s.GetBlock(c)
		if err != nil {
			t.Fatalf("block %s of the import: %v", c, err)
		}
		got[c] = b
		if c.Type() == cid.DagProtobuf {
			nd, err := merkledag.DecodeProtobuf(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, ln := range nd.Links() {
				walk(ln.Cid)
			}
		}
	}
	walk(link.c)
	if n := uint64(len(data)); link.fsize != n {
		t.Fatalf("file size %d, want %d", link.fsize, n)
	}
	return link.c, got
}

func sortedKeys(m map[cid.Cid][]byte) []string {
	var out []string
	for c := range m {
		out = append(out, c.String())
	}
	sort.Strings(out)
	return out
}

// TestFileLayoutMatchesBoxo checks that fileimport.go builds byte-identical
// DAGs to boxo's balanced layout for every shape: empty, one short chunk,
// exact multiples, one leaf past a full node, two and three levels, with raw
// leaves and with dag-pb leaves with and without a mode. Small chunks and
// fan-out make the deep shapes cheap; the real parameters are checked too.
func TestFileLayoutMatchesBoxo(t *testing.T) {
	s := openTemp(t)
	rng := rand.New(rand.NewPCG(7, 11))
	const ck, links = 16, 3
	var sizes []int
	for _, n := range []int{0, 1, ck - 1, ck, ck + 1, 2 * ck, links * ck, links*ck + 1, links * links * ck,
		links*links*ck + 1, links*links*ck + ck + 3, links * links * links * ck, links*links*links*ck + 1} {
		sizes = append(sizes, n)
	}
	for i := 0; i < 20; i++ {
		sizes = append(sizes, rng.IntN(links*links*links*ck*2))
	}
	layouts := []fileLayout{
		{chunkSize: ck, maxLinks: links, raw: true},
		{chunkSize: ck, maxLinks: links},
		{chunkSize: ck, maxLinks: links, mode: 0o644},
		{chunkSize: ck, maxLinks: links, mode: 0o755 | os.ModeSetuid},
		{chunkSize: ChunkSize, maxLinks: LinksPerBlock, raw: true},
		{chunkSize: ChunkSize, maxLinks: LinksPerBlock, mode: 0o755},
	}
	for _, l := range layouts {
		ls := sizes
		if l.chunkSize == ChunkSize {
			ls = []int{0, 1, 1000, ChunkSize, ChunkSize + 1, 3*ChunkSize + 17}
		}
		for _, n := range ls {
			t.Run(fmt.Sprintf("chunk%d-links%d-raw%v-mode%o-size%d", l.chunkSize, l.maxLinks, l.raw, l.mode, n), func(t *testing.T) {
				data := make([]byte, n)
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				want, wantBlocks := boxoImport(t, data, l)
				got, gotBlocks := ourImport(t, s, data, l)
				if got != want {
					t.Fatalf("root %s, boxo gives %s", got, want)
				}
				if len(gotBlocks) != len(wantBlocks) {
					t.Fatalf("%d blocks %v, boxo stores %d %v", len(gotBlocks), sortedKeys(gotBlocks), len(wantBlocks), sortedKeys(wantBlocks))
				}
				for c, b := range wantBlocks {
					if !bytes.Equal(gotBlocks[c], b) {
						t.Fatalf("block %s differs from boxo's", c)
					}
				}
			})
		}
	}
}

// TestFileImportReadError: a failing reader mid-file aborts the add with
// its error and leaves no block behind.
func TestFileImportReadError(t *testing.T) {
	// Background syncs run during this add (every 64 KiB here): they make
	// temp files durable but must not publish any block of a failed add.
	defer func(old int64) { syncEvery = old }(syncEvery)
	syncEvery = 64 << 10
	s := openTemp(t)
	before, err := s.AllBlocks()
	if err != nil {
		t.Fatal(err)
	}
	r := &failingReader{data: bytes.Repeat([]byte("x"), 3*ChunkSize), err: fmt.Errorf("disk on fire")}
	_, err = s.AddReader(context.Background(), r, 0, AddOptions{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("disk on fire")) {
		t.Fatalf("add with a failing reader: %v", err)
	}
	after, err := s.AllBlocks()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("a failed add left %d blocks (had %d)", len(after), len(before))
	}
	if tmps, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(tmps) != 0 {
		t.Fatalf("a failed add left %d temp files", len(tmps))
	}
	// The same bytes then add fine, across several background syncs.
	data := make([]byte, 5*ChunkSize+77)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	c, err := s.AddReader(context.Background(), bytes.NewReader(data), 0, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := s.Cat(context.Background(), c, "", &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatal("read back differs")
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}
