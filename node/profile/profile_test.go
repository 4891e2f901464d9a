package profile

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/storefs"
)

func addTree(t *testing.T, s *storefs.Store, files map[string]string) cid.Cid {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o755))
	}
	c, err := s.AddPath(context.Background(), dir, storefs.AddOptions{PreserveMode: true})
	require.NoError(t, err)
	return c
}

func has(t *testing.T, s *storefs.Store, c cid.Cid) bool {
	ok, err := s.HasBlock(c)
	require.NoError(t, err)
	return ok
}

func TestInstallSwitchRollbackGC(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	s, err := storefs.Open(filepath.Join(home, "ipfs"))
	require.NoError(t, err)
	defer s.Close()
	a := addTree(t, s, map[string]string{"bin/a": "A", "share/doc/a.txt": "doc a"})
	b := addTree(t, s, map[string]string{"bin/b": "B", "share/doc/b.txt": "doc b"})
	junk := addTree(t, s, map[string]string{"bin/junk": "not installed"})

	p, err := Open(s, filepath.Join(home, "profiles"), "alice", s.MountDir())
	require.NoError(t, err)
	g1, err := p.Install(ctx, a)
	require.NoError(t, err)
	g2, err := p.Install(ctx, b)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, []int{g1, g2})

	cur := p.CurrentLink()
	target, err := os.Readlink(filepath.Join(cur, "bin", "a"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(s.MountDir(), a.String(), "bin", "a"), target)
	target, err = os.Readlink(filepath.Join(cur, "share", "doc", "b.txt"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(s.MountDir(), b.String(), "share", "doc", "b.txt"), target)

	gens, err := p.List()
	require.NoError(t, err)
	require.Len(t, gens, 2)
	require.Equal(t, []cid.Cid{a}, gens[0].Outputs)
	require.Equal(t, []cid.Cid{a, b}, gens[1].Outputs)
	require.True(t, gens[1].Current)

	// Rollback: back to generation 1, which has no bin/b.
	prev, err := p.Rollback()
	require.NoError(t, err)
	require.Equal(t, 1, prev)
	_, err = os.Lstat(filepath.Join(cur, "bin", "b"))
	require.True(t, os.IsNotExist(err))
	_, err = p.Rollback()
	require.ErrorIs(t, err, ErrNoRollback)
	require.NoError(t, p.Switch(2))
	_, err = os.Lstat(filepath.Join(cur, "bin", "b"))
	require.NoError(t, err)
	require.ErrorIs(t, p.Switch(9), ErrNoGeneration)
	require.NoError(t, p.Switch(1))

	link := filepath.Join(home, ".buildchain-profile")
	require.NoError(t, p.LinkHome(link))
	_, err = os.Lstat(filepath.Join(link, "bin", "a"))
	require.NoError(t, err)

	// GC keeps what any generation uses (b only by the non-current generation 2), not junk.
	require.NoError(t, s.ReleaseTempPins(os.Getpid()))
	_, err = s.GC(ctx)
	require.NoError(t, err)
	require.True(t, has(t, s, a))
	require.True(t, has(t, s, b))
	require.False(t, has(t, s, junk))

	// Deleting generation 2 drops its roots: b goes at the next GC, a stays (generation 1).
	require.Error(t, p.Delete(1), "current generation cannot be deleted")
	require.NoError(t, p.Delete(2))
	_, err = s.GC(ctx)
	require.NoError(t, err)
	require.True(t, has(t, s, a))
	require.False(t, has(t, s, b))
}

func TestCollisionAndBadOutputs(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	s, err := storefs.Open(filepath.Join(home, "ipfs"))
	require.NoError(t, err)
	defer s.Close()
	a := addTree(t, s, map[string]string{"bin/tool": "A"})
	b := addTree(t, s, map[string]string{"bin/tool": "B"})
	p, err := Open(s, filepath.Join(home, "profiles"), "bob", s.MountDir())
	require.NoError(t, err)
	_, err = p.Install(ctx, a)
	require.NoError(t, err)
	_, err = p.Install(ctx, b)
	require.ErrorIs(t, err, ErrCollision)
	cur, err := p.Current()
	require.NoError(t, err)
	require.Equal(t, 1, cur, "a failed install leaves the current generation alone")

	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	fc, err := s.AddPath(ctx, f, storefs.AddOptions{PreserveMode: true})
	require.NoError(t, err)
	_, err = p.Install(ctx, fc)
	require.ErrorContains(t, err, "only directory outputs")

	missing := cid.MustParse("bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	_, err = p.Install(ctx, missing)
	require.Error(t, err)
	_, err = Open(s, filepath.Join(home, "profiles"), "../evil", s.MountDir())
	require.Error(t, err)
}
