package builder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/buildchain/buildchain/testutil/smallfs"
)

// A build whose output does not fit on the disk (the store and the build state on a small
// tmpfs; the output is written in the build dir, then does not fit in the store): the build
// fails naming ENOSPC, nothing of it is visible (no new block, no cached output, no work dir
// left), the store verifies, and once space is freed the same build succeeds (issue 13).
func TestFullDiskBuild(t *testing.T) {
	home := smallfs.Mount(t, "64m")
	e := newEnvIn(t, home)
	ctx := context.Background()
	// seq writes about 10.9 MB that do not deduplicate: it fits in the build dir, not in the
	// store as well.
	drv := e.add(`{"name":"big","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh",
		"args":["-c","set -e\nPATH=/ipfs/store/@bootstrap@/bin\nmkdir -p $out\nseq 1 1500000 > $out/numbers"],
		"env":{},"inputs":["@bootstrap@"],"outputs":["out"]}`, nil)
	before, err := e.store.AllBlocks()
	require.NoError(t, err)
	filler := smallfs.FillTo(t, home, 16<<20)

	_, err = e.b.Build(ctx, drv, Options{})
	t.Log(err)
	require.ErrorIs(t, err, unix.ENOSPC)
	require.ErrorContains(t, err, "no space left on device")
	require.ErrorContains(t, err, "build of big")

	bad, _, err := e.store.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, bad)
	after, err := e.store.AllBlocks()
	require.NoError(t, err)
	require.Len(t, after, len(before), "the failed build left blocks in the store")
	cache, err := os.ReadDir(filepath.Join(e.b.cfg.StateDir, "cache"))
	require.NoError(t, err)
	require.Empty(t, cache, "a failed build has no cached output")
	left, err := os.ReadDir(filepath.Join(e.b.cfg.StateDir, "tmp"))
	require.NoError(t, err)
	require.Empty(t, left, "the failed build's work dir is removed")

	require.NoError(t, os.Remove(filler))
	r, err := e.b.Build(ctx, drv, Options{})
	require.NoError(t, err, e.log.String())
	require.False(t, r.Cached)
	nums := e.cat(r.Output, "numbers")
	require.True(t, strings.HasPrefix(nums, "1\n2\n3\n"))
	require.True(t, strings.HasSuffix(nums, "\n1499999\n1500000\n"))
	bad, _, err = e.store.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, bad)
}
