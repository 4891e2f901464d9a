package storefs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/buildchain/buildchain/node/storefs/corpus"
	chunk "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
)

// fixtureDir holds the kubo fixtures (root CIDs from a real
// kubo v0.42.0 run and the corpus generator), so the test does not depend on
// where the checkout lives.
const fixtureDir = "testdata/kubo-cids"

var (
	corpusOnce sync.Once
	corpusDir  string
	corpusErr  error
)

// sharedCorpus generates the kubo fixture corpus once per test binary.
func sharedCorpus(t testing.TB) string {
	t.Helper()
	corpusOnce.Do(func() {
		corpusDir, corpusErr = os.MkdirTemp("", "storefs-corpus-")
		if corpusErr == nil {
			corpusErr = corpus.Generate(corpusDir, "fixture")
		}
	})
	if corpusErr != nil {
		t.Fatalf("generate corpus: %v", corpusErr)
	}
	return corpusDir
}

func TestMain(m *testing.M) {
	if childMain() || crashLoopChild() {
		return
	}
	code := m.Run()
	if corpusDir != "" {
		os.RemoveAll(corpusDir)
	}
	os.Exit(code)
}

func fixturePath(t testing.TB) string {
	t.Helper()
	p := filepath.Join(fixtureDir, "cids.tsv")
	if _, err := os.Stat(p); err != nil {
		// BUILDCHAIN_FIXTURES points at another copy of shared/fixtures.
		if d := os.Getenv("BUILDCHAIN_FIXTURES"); d != "" {
			return filepath.Join(d, "kubo-cids")
		}
		t.Fatalf("kubo fixtures not found at %s (set BUILDCHAIN_FIXTURES): %v", p, err)
	}
	return fixtureDir
}

// TestKuboCIDs adds every input of cids.tsv with the recorded kubo flags and
// compares the root CID kubo v0.42.0 computed. boxo's process-wide import
// defaults are set to other values first: the store passes its parameters
// explicitly and must not depend on (nor set) them.
func TestKuboCIDs(t *testing.T) {
	oldChunk, oldLinks := chunk.DefaultBlockSize, helpers.DefaultLinksPerBlock
	oldShard, oldEst, oldWidth := uio.HAMTShardingSize, uio.HAMTSizeEstimation, uio.DefaultShardWidth
	chunk.DefaultBlockSize, helpers.DefaultLinksPerBlock = 1024, 3
	uio.HAMTShardingSize, uio.HAMTSizeEstimation, uio.DefaultShardWidth = 1, uio.SizeEstimationBlock, 8
	t.Cleanup(func() {
		chunk.DefaultBlockSize, helpers.DefaultLinksPerBlock = oldChunk, oldLinks
		uio.HAMTShardingSize, uio.HAMTSizeEstimation, uio.DefaultShardWidth = oldShard, oldEst, oldWidth
	})
	dir := sharedCorpus(t)
	raw, err := os.ReadFile(filepath.Join(fixturePath(t), "cids.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	empty, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	rows := 0
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			t.Fatalf("bad row %q", line)
		}
		path, flags, want := cols[0], cols[1], cols[2]
		rows++
		t.Run(path+" "+flags, func(t *testing.T) {
			opts := AddOptions{PreserveMode: strings.Contains(flags, "--preserve-mode")}
			if !opts.PreserveMode && !strings.Contains(flags, "--raw-leaves") {
				t.Fatalf("row uses flags the store does not model: %q", flags)
			}
			got, err := s.AddPath(context.Background(), filepath.Join(dir, path), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != want {
				t.Fatalf("%s (%s): got %s, kubo gave %s", path, flags, got, want)
			}
			// --only-hash gives the same CID and stores nothing.
			opts.OnlyHash = true
			hashOnly, err := empty.AddPath(context.Background(), filepath.Join(dir, path), opts)
			if err != nil || hashOnly.String() != want {
				t.Fatalf("only-hash: got %s %v, want %s", hashOnly, err, want)
			}
			if blks, _ := empty.AllBlocks(); len(blks) != 0 {
				t.Fatalf("only-hash stored %d blocks", len(blks))
			}
		})
	}
	if rows != 8 {
		t.Fatalf("expected 8 fixture rows, read %d", rows)
	}
}

// TestCorpusMatchesPython checks the Go port against gen-corpus.py itself.
func TestCorpusMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: cannot compare with gen-corpus.py")
	}
	dir := sharedCorpus(t)
	pyDir := t.TempDir()
	out, err := exec.Command(py, filepath.Join(fixturePath(t), "gen-corpus.py"), pyDir, "fixture").CombinedOutput()
	if err != nil {
		t.Fatalf("gen-corpus.py: %v\n%s", err, out)
	}
	n, diffs, err := corpus.Compare(pyDir, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("python vs go corpus: %s", d)
	}
	if n < 5000 {
		t.Fatalf("compared only %d paths", n)
	}
}
