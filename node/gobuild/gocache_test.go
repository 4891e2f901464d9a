package gobuild

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGoCacheSave: two builds of one store save their entries into one index (neither loses
// the other's); an entry no build used for goCacheKeep goes, with its body once that is an
// hour old; bodies of live entries, fresh unindexed bodies and writers' temporary files stay.
func TestGoCacheSave(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gocache")
	a, err := openGoCache(dir)
	require.NoError(t, err)
	b, err := openGoCache(dir)
	require.NoError(t, err)
	body := func(c *goCache, data string) string {
		h := sha256.Sum256([]byte(data))
		out := hex.EncodeToString(h[:])
		require.NoError(t, os.WriteFile(c.body(out), []byte(data), 0o444))
		return out
	}
	put := func(c *goCache, key, data string, used time.Time) string {
		out := body(c, data)
		c.mu.Lock()
		c.idx.Entries[key] = &cacheEntry{Output: out, Size: int64(len(data)), Used: used.Unix()}
		c.changed[key] = true
		c.mu.Unlock()
		return out
	}
	now := time.Now()
	oldTime := now.Add(-goCacheKeep - time.Hour)
	liveA := put(a, "aa", "package a", now)
	stale := put(a, "a0", "package stale", oldTime)
	require.NoError(t, os.Chtimes(a.body(stale), oldTime, oldTime))
	liveB := put(b, "bb", "package b", now)
	fresh := body(b, "not indexed yet")
	tmp := filepath.Join(dir, "o", ".x.tmp-1")
	require.NoError(t, os.WriteFile(tmp, nil, 0o644))
	require.NoError(t, os.Chtimes(tmp, oldTime, oldTime))

	require.NoError(t, a.save())
	require.NoError(t, b.save())
	idx, err := readCacheIndex(filepath.Join(dir, "index.json"))
	require.NoError(t, err)
	require.Contains(t, idx.Entries, "aa", "the first build's entry survives the second's save")
	require.Contains(t, idx.Entries, "bb")
	require.NotContains(t, idx.Entries, "a0", "unused for too long")
	for _, f := range []string{liveA, liveB, fresh} {
		require.FileExists(t, a.body(f))
	}
	require.NoFileExists(t, a.body(stale), "an old body no entry names goes")
	require.FileExists(t, tmp, "a writer's temporary file is atomicfile's to remove")

	// A new build reads both.
	c, err := openGoCache(dir)
	require.NoError(t, err)
	require.Len(t, c.idx.Entries, 2)
}

// TestBuildIDPart: the action ID as the go command prints it in a build ID (the first 15 bytes
// of the hash in cmd/internal/buildid's alphabet).
func TestBuildIDPart(t *testing.T) {
	id := make([]byte, 32)
	require.Equal(t, "AAAAAAAAAAAAAAAAAAAA", buildIDPart(id))
	for i := range id {
		id[i] = 0xff
	}
	require.Equal(t, "____________________", buildIDPart(id))
	id = []byte{0xfb, 0xef, 0xbe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 99}
	require.Equal(t, "----AQIDBAUGBwgJCgsM", buildIDPart(id))
	require.Empty(t, buildIDPart(id[:14]))
}
