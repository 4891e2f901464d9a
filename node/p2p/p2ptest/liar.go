// Package p2ptest has test peers for node/p2p and the packages that fetch through it: a
// lying bitswap peer (StartLiar) that answers every want with wrong bytes under the wanted CID.
package p2ptest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	blocks "github.com/ipfs/go-block-format"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-msgio"
	"github.com/stretchr/testify/require"
)

// Lie is the bytes StartLiar's peer sends for c.
func Lie(c fmt.Stringer) [32]byte { return sha256.Sum256([]byte("not the block " + c.String())) }

// StartLiar runs a raw libp2p host speaking bitswap 1.2.0 by hand: to every
// want (want-have or want-block) it answers HAVE and sends a block message
// carrying the wanted CID's prefix with the wrong bytes. It counts the lies.
func StartLiar(t testing.TB) (host.Host, *atomic.Int64) {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	var lies atomic.Int64
	h.SetStreamHandler(bsnet.ProtocolBitswap, func(s network.Stream) {
		defer s.Close()
		from := s.Conn().RemotePeer()
		r := msgio.NewVarintReaderSize(s, network.MessageSizeMax)
		for {
			in, _, err := bsmsg.FromMsgReader(r)
			if err != nil {
				return
			}
			out := bsmsg.New(false)
			for _, e := range in.Wantlist() {
				if e.Cancel {
					continue
				}
				lie := Lie(e.Cid)
				blk, err := blocks.NewBlockWithCid(lie[:], e.Cid) // unchecked: this is the lie
				require.NoError(t, err)
				out.AddHave(e.Cid)
				out.AddBlock(blk)
				lies.Add(1)
			}
			if out.Empty() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ws, err := h.NewStream(ctx, from, bsnet.ProtocolBitswap)
			cancel()
			if err != nil {
				return
			}
			_ = out.ToNetV1(ws)
			ws.Close()
		}
	})
	return h, &lies
}
