package p2p

import (
	"context"
	"fmt"
	"sync"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	bsnetwork "github.com/ipfs/boxo/bitswap/network"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// A peer that sends a bad block is dropped on every path: disconnected,
// refused as a connection (badGater) and kept out of closure streams for
// badPeerFor, and named in FetchStats.Dropped of the fetches running then.
//
// On a closure stream a bad block is one failing its hash or not linked from
// the DAG asked for (carfetch.go). In bitswap the receiver computes each
// block's CID from its bytes, so a block with wrong bytes arrives as a block
// nobody asked for: wantGuard drops a peer that sends a block whose
// multihash this node never wanted (bitswap servers send blocks only for
// wants, including small blocks for want-have), before bitswap sees the
// message.

const (
	// wantMemory is how long a want is remembered after it was last sent:
	// a block answering it is welcome until then (a slow or late peer).
	wantMemory = time.Hour
	// dropLogLen bounds the drop log that fetches read their drops from.
	dropLogLen = 64
)

// dropPeer disconnects p after it sent a bad block, keeps it out for
// badPeerFor and logs the drop; err names the peer and the block.
func (n *Node) dropPeer(p peer.ID, err error) error {
	err = fmt.Errorf("%w: %w", ErrBadPeer, err)
	n.log.Warn("dropping peer that sent a bad block", "peer", p, "err", err)
	n.mu.Lock()
	n.bad[p] = time.Now().Add(badPeerFor)
	n.dropSeq++
	n.dropLog = append(n.dropLog, err)
	if len(n.dropLog) > dropLogLen {
		n.dropLog = n.dropLog[len(n.dropLog)-dropLogLen:]
	}
	n.mu.Unlock()
	_ = n.host.Network().ClosePeer(p)
	return err
}

// dropMark is the drop log's position, for dropsSince.
func (n *Node) dropMark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dropSeq
}

// dropsSince returns the drops logged after mark (at most dropLogLen).
func (n *Node) dropsSince(mark int) []error {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := min(n.dropSeq-mark, len(n.dropLog))
	if k <= 0 {
		return nil
	}
	return append([]error(nil), n.dropLog[len(n.dropLog)-k:]...)
}

func (n *Node) isBad(p peer.ID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	until, ok := n.bad[p]
	if ok && time.Now().After(until) {
		delete(n.bad, p)
		return false
	}
	return ok
}

// badGater refuses connections to and from dropped peers. It is made
// before the node (libp2p needs it at host construction); n is set right
// after.
type badGater struct{ n *Node }

func (g *badGater) ok(p peer.ID) bool { return g.n == nil || !g.n.isBad(p) }

func (g *badGater) InterceptPeerDial(p peer.ID) bool                 { return g.ok(p) }
func (g *badGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.ok(p) }
func (g *badGater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *badGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.ok(p)
}
func (g *badGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// wantGuard sits between bitswap and its network: it remembers every
// multihash this node asks peers for and drops a peer that sends a block
// it never asked for.
type wantGuard struct {
	bsnetwork.BitSwapNetwork
	n *Node

	mu        sync.Mutex
	wanted    map[string]time.Time // multihash → last sent
	lastSweep time.Time
}

func newWantGuard(inner bsnetwork.BitSwapNetwork, n *Node) *wantGuard {
	return &wantGuard{BitSwapNetwork: inner, n: n, wanted: make(map[string]time.Time), lastSweep: time.Now()}
}

// record notes the wants of an outgoing message (before it is sent, so
// no answer can come first).
func (g *wantGuard) record(m bsmsg.BitSwapMessage) {
	wl := m.Wantlist()
	if len(wl) == 0 {
		return
	}
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range wl {
		if !e.Cancel {
			g.wanted[string(e.Cid.Hash())] = now
		}
	}
	if now.Sub(g.lastSweep) > wantMemory/4 {
		for k, t := range g.wanted {
			if now.Sub(t) > wantMemory {
				delete(g.wanted, k)
			}
		}
		g.lastSweep = now
	}
}

// unasked returns the first block of m that was never wanted, if any.
func (g *wantGuard) unasked(m bsmsg.BitSwapMessage) (string, bool) {
	bs := m.Blocks()
	if len(bs) == 0 {
		return "", false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, b := range bs {
		if _, ok := g.wanted[string(b.Cid().Hash())]; !ok {
			return b.Cid().String(), true
		}
	}
	return "", false
}

func (g *wantGuard) SendMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) error {
	g.record(m)
	return g.BitSwapNetwork.SendMessage(ctx, p, m)
}

func (g *wantGuard) NewMessageSender(ctx context.Context, p peer.ID, opts *bsnetwork.MessageSenderOpts) (bsnetwork.MessageSender, error) {
	s, err := g.BitSwapNetwork.NewMessageSender(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	return &guardedSender{MessageSender: s, g: g}, nil
}

func (g *wantGuard) Start(rs ...bsnetwork.Receiver) {
	wrapped := make([]bsnetwork.Receiver, len(rs))
	for i, r := range rs {
		wrapped[i] = &guardedReceiver{Receiver: r, g: g}
	}
	g.BitSwapNetwork.Start(wrapped...)
}

type guardedSender struct {
	bsnetwork.MessageSender
	g *wantGuard
}

func (s *guardedSender) SendMsg(ctx context.Context, m bsmsg.BitSwapMessage) error {
	s.g.record(m)
	return s.MessageSender.SendMsg(ctx, m)
}

type guardedReceiver struct {
	bsnetwork.Receiver
	g *wantGuard
}

// ReceiveMessage passes on messages of peers in good standing without
// blocks nobody asked for; a message with such a block drops its sender
// and goes no further.
func (r *guardedReceiver) ReceiveMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) {
	if r.g.n.isBad(p) {
		return
	}
	if c, bad := r.g.unasked(m); bad {
		r.g.n.dropPeer(p, fmt.Errorf("peer %s sent block %s over bitswap, which was never asked for (wrong bytes for a wanted block hash to another CID)", p, c))
		return
	}
	r.Receiver.ReceiveMessage(ctx, p, m)
}
