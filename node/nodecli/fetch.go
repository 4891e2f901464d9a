package nodecli

import (
	"context"
	"os"
	"path/filepath"

	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/p2p/p2pcli"
	"github.com/buildchain/buildchain/node/storefs"
)

// StoreFetchEnv is the p2pcli.OpenFunc of `store fetch CID`: the store of
// --store (else $BUILDCHAIN_HOME/ipfs), a throw-away libp2p identity (so it
// can run beside `node run`), mDNS on, and the fetched root pinned for the
// current user (program "fetch") under the store's add lock, so a GC
// running meanwhile cannot sweep it.
func StoreFetchEnv(cmd *cobra.Command) (*p2pcli.Env, error) {
	root, err := storeRoot(cmd)
	if err != nil {
		return nil, err
	}
	s, err := storefs.Open(root)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "buildchain-fetch-")
	if err != nil {
		s.Close()
		return nil, err
	}
	user := storefs.CurrentUser()
	return &p2pcli.Env{
		Blockstore: s.Blockstore(),
		Config: p2p.Config{KeyFile: filepath.Join(dir, "p2p.key"), EnableMDNS: true,
			Links: s.Walker().Children, ReprovideInterval: -1},
		AfterFetch: func(_ context.Context, c cid.Cid) error { return s.Pin(user, "fetch", c) },
		Guard:      s.WithAddLock,
		Close: func() error {
			os.RemoveAll(dir)
			return s.Close()
		},
	}, nil
}

var _ p2pcli.OpenFunc = StoreFetchEnv
