package nodecli

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/storefs"
)

// `store fetch` against a real serving node over loopback: the closure
// arrives hash-checked, progress is plain lines on a non-terminal, the root
// is pinned for the user, and a GC afterwards keeps all of it.
func TestStoreFetchCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, err := runtime.Open(runtime.Config{StoreRoot: filepath.Join(t.TempDir(), "src", "ipfs"),
		P2P: &p2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, ReprovideInterval: -1}})
	require.NoError(t, err)
	defer src.Close()
	data := make([]byte, 1<<20+777)
	_, _ = rand.Read(data)
	root, err := src.Store().AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
	require.NoError(t, err)
	require.NoError(t, src.Store().Pin("test", "publish", root))
	n, err := src.P2P()
	require.NoError(t, err)
	peer := n.Addrs()[0].String()

	dstRoot := filepath.Join(t.TempDir(), "dst", "ipfs")
	store := &cobra.Command{Use: "store"}
	store.PersistentFlags().String(flagStore, "", "")
	store.AddCommand(StoreFetchCmd())
	var stdout, stderr bytes.Buffer
	store.SetOut(&stdout)
	store.SetErr(&stderr)
	store.SetArgs([]string{"fetch", root.String(), "--store", dstRoot, "--peer", peer, "--no-mdns", "--timeout", "60s"})
	require.NoError(t, store.ExecuteContext(ctx))
	require.Contains(t, stdout.String(), "fetched "+root.String()+": ")
	// Not a terminal: progress as plain lines, each ending in a newline, the last one complete.
	require.NotContains(t, stderr.String(), "\r")
	require.Regexp(t, `(?m)^fetching \S+: (\d+)/(\d+) blocks \(100%\)\n\z`, stderr.String())

	dst, err := storefs.Open(dstRoot)
	require.NoError(t, err)
	defer dst.Close()
	pins, err := dst.ListPins()
	require.NoError(t, err)
	var pinned bool
	for _, p := range pins {
		if p.Kind == "user" && p.Prog == FetchPins && p.CID == root {
			pinned = true
		}
		require.NotEqual(t, "temp", p.Kind, "the command's temp pin outlived it: %+v", p)
	}
	require.True(t, pinned, "root not pinned under %q: %+v", FetchPins, pins)
	_, err = dst.GC(ctx)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, dst.Cat(ctx, root, "", &out))
	require.Equal(t, data, out.Bytes())
}

// A bad CID fails before anything is opened.
func TestStoreFetchCommandBadInput(t *testing.T) {
	dstRoot := filepath.Join(t.TempDir(), "dst", "ipfs")
	cmd := StoreFetchCmd()
	cmd.Flags().String(flagStore, "", "")
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"not-a-cid", "--store", dstRoot})
	require.ErrorContains(t, cmd.Execute(), "bad CID")
	_, err := os.Stat(dstRoot)
	require.True(t, os.IsNotExist(err), "the store was opened for bad input")

	cmd.SetArgs([]string{})
	require.Error(t, cmd.Execute())
}
