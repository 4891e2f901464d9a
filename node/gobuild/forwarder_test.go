package gobuild

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"
)

func fakeToolchain(t *testing.T, name string) cid.Cid {
	t.Helper()
	h := sha256.Sum256([]byte(name))
	m, err := mh.Encode(h[:], mh.SHA2_256)
	require.NoError(t, err)
	return cid.NewCidV1(cid.DagProtobuf, m)
}

// TestForwarderCached: the toolexec forwarder is compiled once per toolchain and kept in the
// cache dir: a second store (another call) gets the same file without compiling (its go
// command does not even exist), another toolchain gets its own, and nothing else is left in
// the directory.
func TestForwarderCached(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		t.Skip("no go command at GOROOT")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache", "gobuild")
	env := append(os.Environ(), "GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOENV=off")
	tc := fakeToolchain(t, "go A")

	bin, err := forwarder(ctx, dir, tc, goBin, env)
	require.NoError(t, err)
	fi, err := os.Stat(bin)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&0o111, "executable")
	out, err := exec.Command(bin).CombinedOutput()
	require.Error(t, err, "no tool to forward")
	require.Contains(t, string(out), "forwarder: no tool to run", "it is the forwarder")

	again, err := forwarder(ctx, dir, tc, "/nonexistent/bin/go", env)
	require.NoError(t, err, "cached: not compiled again")
	require.Equal(t, bin, again)
	fi2, err := os.Stat(again)
	require.NoError(t, err)
	require.True(t, os.SameFile(fi, fi2), "the same file, not rewritten")

	_, err = forwarder(ctx, dir, fakeToolchain(t, "go B"), "/nonexistent/bin/go", env)
	require.Error(t, err, "another toolchain: its own forwarder, compiled with its go")

	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1, "no temporary left behind: %v", ents)
	require.Equal(t, filepath.Base(bin), ents[0].Name())
}
