package p2p

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

func TestIdentityCreatedOnceAndReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "p2p.key")
	k1, err := LoadOrCreateIdentity(path)
	require.NoError(t, err)
	require.Equal(t, crypto.Ed25519, int(k1.Type()))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	k2, err := LoadOrCreateIdentity(path)
	require.NoError(t, err)
	require.True(t, k1.Equals(k2))

	// A node restarted on the same key file keeps its peer ID.
	mk := func() peer.ID {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n, err := New(ctx, Config{KeyFile: path, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Blockstore: newMemStore(), ReprovideInterval: -1})
		require.NoError(t, err)
		defer n.Close()
		return n.ID()
	}
	id1 := mk()
	require.Equal(t, id1, mk())
	want, err := peer.IDFromPrivateKey(k1)
	require.NoError(t, err)
	require.Equal(t, want, id1)
}

func TestIdentityCorruptFileKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p2p.key")
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
	_, err := LoadOrCreateIdentity(path)
	require.ErrorContains(t, err, "parse key file")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "garbage", string(data), "a damaged key file must not be replaced")

	_, err = LoadOrCreateIdentity("")
	require.Error(t, err)
}

func TestIdentityConcurrentFirstStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p2p.key")
	keys := make([]crypto.PrivKey, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := LoadOrCreateIdentity(path)
			require.NoError(t, err)
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		require.True(t, keys[0].Equals(k), "racing first starts got different identities")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	_, err := New(ctx, Config{KeyFile: filepath.Join(t.TempDir(), "k")})
	require.ErrorContains(t, err, "Blockstore is required")
	_, err = New(ctx, Config{KeyFile: filepath.Join(t.TempDir(), "k"), Blockstore: newMemStore(), Bootstrap: []string{"/ip4/127.0.0.1/tcp/1"}})
	require.ErrorContains(t, err, "/p2p/")
	_, err = New(ctx, Config{KeyFile: filepath.Join(t.TempDir(), "k"), Blockstore: newMemStore(), ListenAddrs: []string{"not-an-addr"}})
	require.Error(t, err)
}
