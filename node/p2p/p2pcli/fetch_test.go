package p2pcli

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	h "github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	mh "github.com/multiformats/go-multihash"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/p2p"
)

func memStore() blockstore.Blockstore {
	return &blockstore.ValidatingBlockstore{Blockstore: blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))}
}

// A real serving node and the command fetching from it over loopback.
func TestFetchCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srcStore := memStore()
	src, err := p2p.New(ctx, p2p.Config{
		KeyFile:           filepath.Join(t.TempDir(), "src.key"),
		ListenAddrs:       []string{"/ip4/127.0.0.1/tcp/0"},
		Blockstore:        srcStore,
		ReprovideInterval: -1,
		Logger:            slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	defer src.Close()

	data := make([]byte, 200<<10)
	_, _ = rand.Read(data)
	params := h.DagBuilderParams{
		Maxlinks: 8, RawLeaves: true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256},
		Dagserv:    merkledag.NewDAGService(blockservice.New(srcStore, nil)),
	}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), 4096))
	require.NoError(t, err)
	nd, err := balanced.Layout(db)
	require.NoError(t, err)
	root := nd.Cid()

	dst := memStore()
	var pinned cid.Cid
	closed, guarded := false, false
	open := func(*cobra.Command) (*Env, error) {
		return &Env{
			Blockstore: dst,
			Config: p2p.Config{
				KeyFile:     filepath.Join(t.TempDir(), "dst.key"),
				ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
				Logger:      slog.New(slog.DiscardHandler),
			},
			AfterFetch: func(_ context.Context, c cid.Cid) error { pinned = c; return nil },
			Close:      func() error { closed = true; return nil },
			Guard:      func(fn func() error) error { guarded = true; return fn() },
		}, nil
	}

	cmd := NewFetchCmd(open)
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{root.String(), "--peer", src.Addrs()[0].String(), "--no-mdns", "--timeout", "30s"})
	require.NoError(t, cmd.ExecuteContext(ctx))
	require.Contains(t, stdout.String(), "fetched "+root.String())
	// Not a terminal: progress as plain lines, each ending in a newline, the last one complete.
	require.NotContains(t, stderr.String(), "\r")
	require.Regexp(t, `(?m)^fetching \S+: (\d+)/(\d+) blocks \(100%\)\n\z`, stderr.String())
	require.True(t, pinned.Equals(root))
	require.True(t, closed)
	require.True(t, guarded)

	// The file reads back from the destination store alone.
	dag := merkledag.NewDAGService(blockservice.New(dst, nil))
	got, err := dag.Get(ctx, root)
	require.NoError(t, err)
	require.Equal(t, nd.RawData(), got.RawData())
	require.NoError(t, merkledag.FetchGraph(ctx, root, dag)) // fails on any missing block
}

func TestFetchCommandBadInput(t *testing.T) {
	opened := false
	cmd := NewFetchCmd(func(*cobra.Command) (*Env, error) { opened = true; return nil, nil })
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"not-a-cid"})
	err := cmd.Execute()
	require.ErrorContains(t, err, "bad CID")
	require.False(t, opened, "the store must not be opened for bad input")

	cmd.SetArgs([]string{})
	require.Error(t, cmd.Execute())
}
