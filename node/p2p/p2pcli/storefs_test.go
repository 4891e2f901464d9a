package p2pcli

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/storefs"
)

// The wiring the binary is expected to use: the real store, the fetch under
// its add lock, the root pinned afterwards; then a GC keeps the whole closure.
func TestFetchCommandWithStorefs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src, err := storefs.Open(filepath.Join(t.TempDir(), "src"))
	require.NoError(t, err)
	defer src.Close()
	data := make([]byte, 1<<20+777)
	_, _ = rand.Read(data)
	root, err := src.AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
	require.NoError(t, err)
	srcNode, err := p2p.New(ctx, p2p.Config{
		KeyFile: filepath.Join(t.TempDir(), "src.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		Blockstore: src.Blockstore(), ReprovideInterval: -1, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	defer srcNode.Close()

	dstRoot := filepath.Join(t.TempDir(), "dst")
	open := func(*cobra.Command) (*Env, error) {
		s, err := storefs.Open(dstRoot)
		if err != nil {
			return nil, err
		}
		return &Env{
			Blockstore: s.Blockstore(),
			Config: p2p.Config{
				KeyFile:     filepath.Join(filepath.Dir(dstRoot), "p2p.key"),
				ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
				Logger:      slog.New(slog.DiscardHandler),
			},
			Guard:      s.WithAddLock,
			AfterFetch: func(_ context.Context, c cid.Cid) error { return s.Pin("tester", "fetch", c) },
			Close:      s.Close,
		}, nil
	}
	cmd := NewFetchCmd(open)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{root.String(), "--peer", srcNode.Addrs()[0].String(), "--no-mdns", "--timeout", "30s"})
	require.NoError(t, cmd.ExecuteContext(ctx))

	dst, err := storefs.Open(dstRoot)
	require.NoError(t, err)
	defer dst.Close()
	_, err = dst.GC(ctx)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, dst.Cat(ctx, root, "", &out))
	require.Equal(t, data, out.Bytes())
}
