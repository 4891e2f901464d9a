package nixcache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/klauspost/compress/zstd"
	"github.com/nix-community/go-nix/pkg/narinfo"
	"github.com/ulikunitz/xz"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/nix/importer"
	"github.com/buildchain/buildchain/node/nix/nar"
	"github.com/buildchain/buildchain/node/nix/nixtest"
	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
	"github.com/buildchain/buildchain/node/storefs"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// verifier stands in for the chain in this package's tests (tests/e2e uses the real chain):
// a derivation is verified once the test says so, with the output our builder made.
type verifier struct {
	b     *builder.Builder
	mu    sync.Mutex
	valid map[cid.Cid]bool
}

func (v *verifier) VerifiedOutput(ctx context.Context, drv cid.Cid) (cid.Cid, bool, error) {
	v.mu.Lock()
	ok := v.valid[drv]
	v.mu.Unlock()
	if !ok {
		return cid.Undef, false, nil
	}
	r, err := v.b.Build(ctx, drv, builder.Options{})
	if err != nil {
		return cid.Undef, false, err
	}
	return r.Output, true, nil
}

func (v *verifier) set(c cid.Cid) {
	v.mu.Lock()
	v.valid[c] = true
	v.mu.Unlock()
}

type env struct {
	dir, root string
	store     *storefs.Store
	index     *importer.Index
	b         *builder.Builder
	v         *verifier
	srv       *Server
	url       string
	pub       string
}

func newEnv(t *testing.T, compression string) *env {
	t.Helper()
	nixtest.Need(t)
	dir := t.TempDir()
	s, b := nixtest.Store(t, dir, nil)
	idx, err := importer.OpenIndex(filepath.Join(dir, "nix", "index"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := LoadOrCreateKey(filepath.Join(dir, "nix", "cache.key"), "buildchain-test-1")
	if err != nil {
		t.Fatal(err)
	}
	v := &verifier{b: b, valid: map[cid.Cid]bool{}}
	srv, err := New(Config{Store: s, Index: idx, Verifier: v, Key: key, CacheDir: filepath.Join(dir, "nix", "nar"), Compression: compression})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return &env{dir: dir, root: filepath.Join(dir, "nixroot"), store: s, index: idx, b: b, v: v, srv: srv,
		url: "http://" + ln.Addr().String(), pub: key.ToPublicKey().String()}
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func hashPart(p string) string { return p[len("/nix/store/") : len("/nix/store/")+32] }

// TestRealNixSubstitutes: the real nix, with an empty store and our cache as its only
// substituter (our key trusted, signatures required), realises a .drv whose outputs we built
// and "verified": it substitutes both, builds nothing (--max-jobs 0), verify-path passes,
// and the NarHash equals that of nix's own build. Before verification the cache answers 404
// and nix cannot realise it without building.
func TestRealNixSubstitutes(t *testing.T) {
	for _, compression := range []string{"zstd", "xz", "none"} {
		t.Run(compression, func(t *testing.T) { testSubstitutes(t, compression) })
	}
}

func testSubstitutes(t *testing.T, compression string) {
	e := newEnv(t, compression)
	ctx := context.Background()
	bb := nixtest.Busybox(t, e.dir)
	expr := nixtest.TwoStep(bb, "substitutes-"+compression)
	drvs := nixtest.Instantiate(t, e.root, e.dir, expr)
	imported, err := importer.New(e.store, filepath.Join(e.root, "nix", "store"), e.index, nil).Import(ctx, drvs[0])
	if err != nil {
		t.Fatal(err)
	}
	hello, greeting := imported[1], imported[0]
	if _, err := e.b.Build(ctx, hello.Derivation, builder.Options{}); err != nil {
		t.Fatal(err)
	}

	if code, body := get(t, e.url+"/nix-cache-info"); code != 200 || !strings.Contains(string(body), "StoreDir: /nix/store") {
		t.Fatalf("nix-cache-info: %d %s", code, body)
	}
	// Not verified yet: 404, and nix has to build (which --max-jobs 0 forbids).
	if code, body := get(t, e.url+"/"+hashPart(hello.Out)+".narinfo"); code != 404 || !strings.Contains(string(body), "no VALID claim") {
		t.Fatalf("unverified narinfo: %d %s", code, body)
	}
	root2 := filepath.Join(e.dir, "client")
	nixtest.Instantiate(t, root2, e.dir, expr)
	conf := []string{"substituters = " + e.url, "trusted-public-keys = " + e.pub, "max-jobs = 0"}
	if out, err := nixtest.RunErr("nix-store", conf, "--store", root2, "--realise", drvs[0]); err == nil {
		t.Fatalf("realised without verified outputs: %s", out)
	}

	e.v.set(hello.Derivation)
	e.v.set(greeting.Derivation)
	code, body := get(t, e.url+"/"+hashPart(hello.Out)+".narinfo")
	if code != 200 {
		t.Fatalf("narinfo: %d %s", code, body)
	}
	ni, err := narinfo.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("narinfo does not parse: %v\n%s", err, body)
	}
	if len(ni.References) != 2 || ni.Deriver != filepath.Base(drvs[0]) || ni.StorePath != hello.Out {
		t.Fatalf("narinfo: %s", body)
	}
	// The compressed NAR decompresses to the NAR.
	code, file := get(t, e.url+"/"+ni.URL)
	if code != 200 {
		t.Fatalf("%s: %d", ni.URL, code)
	}
	rawNAR := decompress(t, compression, file)
	c := nar.NewCounter()
	c.Write(rawNAR)
	if h, n := c.Sum(); "sha256:"+narHashString(h) != ni.NarHash.String() || uint64(n) != ni.NarSize {
		t.Fatalf("NAR at %s does not match the narinfo", ni.URL)
	}

	out, err := nixtest.RunErr("nix-store", conf, "--store", root2, "--realise", drvs[0])
	if err != nil {
		t.Fatalf("substitution failed: %v", err)
	}
	if out != hello.Out {
		t.Fatalf("realise printed %q", out)
	}
	for _, im := range []*importer.Imported{hello, greeting} {
		nixtest.Run(t, "nix-store", "--store", root2, "--verify-path", im.Out)
	}
	// Nix's own build of the same .drv has the NarHash we served.
	nixtest.Run(t, "nix-store", "--store", e.root, "--realise", drvs[0])
	if theirs := nixtest.Run(t, "nix-store", "--store", e.root, "--query", "--hash", hello.Out); theirs != ni.NarHash.String() {
		t.Fatalf("served NarHash %s, nix built %s", ni.NarHash, theirs)
	}
	// Bad requests: unknown path, a NAR URL with a stale hash, a path traversal, a write.
	for url, want := range map[string]int{
		"/" + strings.Repeat("0", 32) + ".narinfo":                             404,
		"/nar/" + hashPart(hello.Out) + "-" + strings.Repeat("0", 52) + ".nar": 404,
		"/nar/../../etc/passwd":                                                404,
		"/" + hashPart(hello.Out) + ".narinfo/x":                               404,
	} {
		if code, body := get(t, e.url+url); code != want {
			t.Errorf("%s: %d %s", url, code, body)
		}
	}
	resp, err := http.Post(e.url+"/"+hashPart(hello.Out)+".narinfo", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
}

func decompress(t *testing.T, compression string, data []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	switch compression {
	case "zstd":
		d, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		r = d
	case "xz":
		x, err := xz.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = x
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(fmt.Errorf("decompress %s: %w", compression, err))
	}
	return out
}
