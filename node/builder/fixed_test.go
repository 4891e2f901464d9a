package builder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/storefs"
)

// tarball packs files (path → content; a path ending in .sh is executable) into a .tar.gz,
// under src/.
func tarball(t *testing.T, files map[string]string, order []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range order {
		mode := int64(0o644)
		if filepath.Ext(name) == ".sh" {
			mode = 0o755
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "src/" + name, Mode: mode, Size: int64(len(files[name])), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(files[name]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// expectedCID is what a store path holding files (under src/) hashes to, computed here and
// not by a build: the modes a build output gets (files 0444 or 0555, directories 0555).
func expectedCID(t *testing.T, s *storefs.Store, files map[string]string) cid.Cid {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "src"), 0o755))
	for name, content := range files {
		mode := os.FileMode(0o444)
		if filepath.Ext(name) == ".sh" {
			mode = 0o555
		}
		p := filepath.Join(dir, "src", name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
	}
	for _, d := range []string{filepath.Join(dir, "src"), dir} {
		require.NoError(t, os.Chmod(d, 0o555))
	}
	c, err := s.AddPath(context.Background(), dir, storefs.AddOptions{PreserveMode: true, OnlyHash: true})
	require.NoError(t, err)
	return c
}

// A fixed-output derivation fetches a tarball from an HTTP server on the host's loopback (it
// alone gets the network); its output must be exactly the CID it declares, else nothing of it
// reaches the store; once its output is in the store, another fixed-output derivation
// declaring it is not built; the same fetch in an ordinary derivation fails.
func TestFixedOutputFetch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	good := map[string]string{"hello.c": "int main(void) { return 0; }\n", "build.sh": "#!/bin/sh\necho build\n"}
	bad := map[string]string{"hello.c": "int main(void) { return 1; }\n", "build.sh": "#!/bin/sh\necho build\n"}
	order := []string{"hello.c", "build.sh"}
	var serveBad atomic.Bool
	var hits atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		files := good
		if serveBad.Load() {
			files = bad
		}
		_, _ = w.Write(tarball(t, files, order))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	url := fmt.Sprintf("http://127.0.0.1:%d/src.tar.gz", ln.Addr().(*net.TCPAddr).Port)

	want := expectedCID(t, e.store, good)
	// examples/fetch/tarball.json; without outputHash, the same fetch as an ordinary derivation.
	tmpl, err := os.ReadFile(filepath.Join(examplesDir(), "fetch", "tarball.json"))
	require.NoError(t, err)
	fetch := func(name, outputHash string) cid.Cid {
		data := string(tmpl)
		if outputHash == "" {
			data = strings.Replace(data, `"outputHash": "@hash@",`, "", 1)
			require.NotContains(t, data, "outputHash")
		}
		return e.add(data, map[string]string{"name": name, "url": url, "hash": outputHash})
	}

	// The server sends something else than declared: the build fails naming both CIDs, and
	// nothing but derivation blocks is added (no output blocks, no pin).
	serveBad.Store(true)
	actual := expectedCID(t, e.store, bad)
	before, err := e.store.AllBlocks()
	require.NoError(t, err)
	_, err = e.b.Build(ctx, fetch("src-changed", want.String()), Options{})
	require.ErrorIs(t, err, ErrFixedOutputMismatch, e.log.String())
	require.Contains(t, err.Error(), "expected "+want.String()+", got "+actual.String())
	require.Equal(t, int64(1), hits.Load())
	after, err := e.store.AllBlocks()
	require.NoError(t, err)
	for _, c := range after {
		if !containsCID(before, c) {
			_, derr := e.b.LoadDerivation(c)
			require.NoError(t, derr, "a failed fixed-output build left block %s in the store", c)
		}
	}
	has, err := e.store.HasBlock(actual)
	require.NoError(t, err)
	require.False(t, has)

	// Declared and fetched agree: the output is in the store at that CID.
	serveBad.Store(false)
	r, err := e.b.Build(ctx, fetch("src", want.String()), Options{})
	require.NoError(t, err, e.log.String())
	require.Equal(t, want, r.Output)
	require.False(t, r.Cached)
	require.Equal(t, good["hello.c"], e.cat(r.Output, "src/hello.c"))
	require.Equal(t, int64(2), hits.Load())

	// Another fixed-output derivation declaring an output the store already has is not built
	// (Nix's rule): no fetch, the existing path is its output.
	r, err = e.b.Build(ctx, fetch("src-elsewhere", want.String()), Options{})
	require.NoError(t, err, e.log.String())
	require.Equal(t, want, r.Output)
	require.True(t, r.Cached)
	require.Equal(t, int64(2), hits.Load(), "a fixed-output derivation whose output exists fetched again")

	// Without a declared output the same fetch has no network.
	_, err = e.b.Build(ctx, fetch("src-unfixed", ""), Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "exited with code")
	require.Equal(t, int64(2), hits.Load(), "an ordinary derivation reached the host's server")
}
