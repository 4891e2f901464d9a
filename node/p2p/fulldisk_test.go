package p2p

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/testutil/smallfs"
)

// requireIntact: the store verifies and holds exactly the blocks it held before.
func requireIntact(t *testing.T, s *storefs.Store, before int) {
	t.Helper()
	bad, _, err := s.Verify(context.Background())
	require.NoError(t, err)
	require.Empty(t, bad)
	all, err := s.AllBlocks()
	require.NoError(t, err)
	require.Len(t, all, before, "a failed operation left blocks behind")
}

// A store on a full filesystem: an add and a fetch from a peer fail naming ENOSPC, leave the
// store as it was (it verifies, no new block is visible), and succeed once space is freed
// (issue 13).
func TestFullDisk(t *testing.T) {
	dir := smallfs.Mount(t, "24m")
	s, err := storefs.Open(filepath.Join(dir, "ipfs"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	data := randomBytes(40, 6<<20)

	t.Run("add", func(t *testing.T) {
		filler := smallfs.Fill(t, dir, 20<<20)
		before, err := s.AllBlocks()
		require.NoError(t, err)
		_, err = s.AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
		t.Log(err)
		require.ErrorIs(t, err, unix.ENOSPC)
		require.ErrorContains(t, err, "no space left on device")
		requireIntact(t, s, len(before))
		require.NoError(t, os.Remove(filler))
		root, err := s.AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
		require.NoError(t, err)
		var got bytes.Buffer
		require.NoError(t, s.Cat(ctx, root, "", &got))
		require.Equal(t, data, got.Bytes())
	})

	t.Run("fetch", func(t *testing.T) {
		fdir := smallfs.Mount(t, "24m")
		fs, err := storefs.Open(filepath.Join(fdir, "ipfs"))
		require.NoError(t, err)
		t.Cleanup(func() { fs.Close() })
		src, ss := newStorefsNode(t)
		root, err := ss.AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
		require.NoError(t, err)
		dst := newTestNode(t, func(c *Config) {
			c.Blockstore = fs.Blockstore()
			c.Logger = slog.New(slog.DiscardHandler)
		})
		connect(t, dst, src)
		filler := smallfs.Fill(t, fdir, 20<<20)
		_, err = dst.FetchClosure(ctx, root, nil)
		t.Log(err)
		require.ErrorIs(t, err, unix.ENOSPC)
		require.ErrorContains(t, err, "no space left on device")
		// Blocks written before the disk filled are whole and verified; none is half-written.
		bad, _, err := fs.Verify(ctx)
		require.NoError(t, err)
		require.Empty(t, bad)
		require.NoError(t, os.Remove(filler))
		st, err := dst.FetchClosure(ctx, root, nil)
		require.NoError(t, err)
		require.Positive(t, st.Blocks)
		var got bytes.Buffer
		require.NoError(t, fs.Cat(ctx, root, "", &got))
		require.Equal(t, data, got.Bytes())
	})
}
