package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockstore"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/buildchain/buildchain/node/block"
)

const (
	// DHTProtocolPrefix keeps our DHT apart from the public IPFS (Amino) DHT:
	// our provider records name buildchain roots, and our nodes run as
	// servers in small local networks where Amino's filters would not.
	DHTProtocolPrefix protocol.ID = "/buildchain"

	// BuildsTopic is the gossipsub topic of signed build records (docs/ARCHITECTURE.md §Node).
	BuildsTopic = "/buildchain/builds/1"

	// DefaultMDNSServiceName is the DNS-SD service our nodes announce on the
	// LAN; a name of our own so we do not dial every IPFS node nearby.
	DefaultMDNSServiceName = "_buildchain._udp"

	// DefaultReprovideInterval re-announces provider records well within
	// the DHT's 48 h record validity.
	DefaultReprovideInterval = 12 * time.Hour

	// DefaultReannounceInterval re-publishes recent own build records.
	DefaultReannounceInterval = 10 * time.Minute

	// maxReannounced bounds the records kept for re-announcing (the most
	// recent ones win).
	maxReannounced = 1024

	// mdnsTag protects connections to LAN peers found by mDNS: docs/ARCHITECTURE.md §Node
	// assumes they may hold any block, so they join every bitswap session
	// (bitswap always broadcasts wants to local peers) and must not be pruned.
	mdnsTag = "buildchain-mdns"
)

// DefaultListenAddrs are used when Config.ListenAddrs is empty.
var DefaultListenAddrs = []string{"/ip4/0.0.0.0/tcp/4040", "/ip4/0.0.0.0/udp/4040/quic-v1"}

// Config configures a Node. KeyFile and Blockstore are required.
type Config struct {
	// KeyFile holds the node's Ed25519 identity; created on first start.
	KeyFile string
	// ListenAddrs are multiaddrs to listen on (DefaultListenAddrs if empty).
	// Tests use "/ip4/127.0.0.1/tcp/0".
	ListenAddrs []string
	// Bootstrap peers: full multiaddrs ending in /p2p/{peer id}. Connected to
	// at start and used to seed the DHT routing table.
	Bootstrap []string
	// EnableMDNS turns on LAN discovery.
	EnableMDNS bool
	// MDNSServiceName overrides DefaultMDNSServiceName (tests use a random
	// name so concurrent test runs on one machine do not find each other).
	MDNSServiceName string
	// Blockstore serves blocks to peers and receives fetched blocks. It
	// should hash-check on Put and Get (node/storefs does); fetched blocks
	// are hash-checked here as well before they reach it.
	Blockstore blockstore.Blockstore
	// TrustedBuilders are peers whose build records are marked trusted.
	TrustedBuilders []peer.ID
	// DHTClientOnly runs the DHT in client mode. The default is server mode,
	// right for small local networks where every node must answer queries.
	DHTClientOnly bool
	// ReprovideInterval (DefaultReprovideInterval if 0; negative disables
	// reproviding) re-announces provided roots and those returned by Roots.
	ReprovideInterval time.Duration
	// Roots, if set, lists the roots the store holds (e.g. its pins); they
	// are provided at start and at every reprovide.
	Roots func(context.Context) ([]cid.Cid, error)
	// ReannounceInterval (DefaultReannounceInterval if 0; negative
	// disables) re-publishes this node's recent build records, so nodes
	// that joined later or missed a message while the gossip mesh formed
	// still learn them.
	ReannounceInterval time.Duration
	// Links names the children of a block in a closure walk (Fetch,
	// FetchClosure). The node passes node/closure's Walker.Children, which
	// knows derivation inputs and runtime references: p2p itself knows no
	// format above the block. Nil means IPLD links only (block.Links).
	Links block.LinkFunc
	// NoCARStream turns off closure streams (node/p2p/carstream), serving
	// and fetching: only bitswap then (for comparisons).
	NoCARStream bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Node is a running libp2p host with DHT, bitswap, mDNS and gossipsub.
type Node struct {
	cfg    Config
	log    *slog.Logger
	host   host.Host
	dht    *dht.IpfsDHT
	bswap  *bitswap.Bitswap
	bstore blockstore.Blockstore
	ps     *pubsub.PubSub
	topic  *pubsub.Topic
	mdns   mdns.Service

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	provided map[cid.Cid]struct{}
	trusted  map[peer.ID]struct{}
	bad      map[peer.ID]time.Time // peers that sent bad blocks, until
	dropSeq  int                   // drops so far (badpeer.go)
	dropLog  []error               // the last dropLogLen drops
	// announced holds this node's recent signed records, keyed by
	// (derivation, output), oldest first, for re-announcing.
	announced []announcedRecord

	closeOnce sync.Once
	closeErr  error
}

// New starts a node. The context bounds only start-up (bootstrap dials); the
// node runs until Close.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Blockstore == nil {
		return nil, errors.New("p2p: Config.Blockstore is required")
	}
	key, err := LoadOrCreateIdentity(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	listen := cfg.ListenAddrs
	if len(listen) == 0 {
		listen = DefaultListenAddrs
	}
	bootstrap, err := ParseAddrInfos(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("module", "p2p")

	cm, err := connmgr.NewConnManager(100, 400, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("p2p: connection manager: %w", err)
	}
	gater := &badGater{}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(listen...),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(gater),
	)
	if err != nil {
		return nil, fmt.Errorf("p2p: start libp2p host on %v: %w", listen, err)
	}

	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:      cfg,
		log:      log,
		host:     h,
		bstore:   cfg.Blockstore,
		ctx:      nctx,
		cancel:   cancel,
		provided: make(map[cid.Cid]struct{}),
		trusted:  make(map[peer.ID]struct{}),
		bad:      make(map[peer.ID]time.Time),
	}
	gater.n = n
	for _, p := range cfg.TrustedBuilders {
		n.trusted[p] = struct{}{}
	}
	if err := n.start(ctx, bootstrap); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) start(ctx context.Context, bootstrap []peer.AddrInfo) error {
	mode := dht.ModeServer
	if n.cfg.DHTClientOnly {
		mode = dht.ModeClient
	}
	var err error
	n.dht, err = dht.New(n.host,
		dht.Mode(mode),
		dht.ProtocolPrefix(DHTProtocolPrefix),
		dht.BootstrapPeers(bootstrap...),
	)
	if err != nil {
		return fmt.Errorf("p2p: start DHT: %w", err)
	}

	// Bitswap keeps the default /ipfs/bitswap protocol IDs so any IPFS
	// node holding our (kubo-compatible) CIDs can serve us. The DHT is its
	// provider finder for blocks no connected peer has.
	n.bswap = bitswap.New(n.ctx, newWantGuard(bsnet.NewFromIpfsHost(n.host), n), n.dht, n.bstore,
		// Up to 8 MiB in flight per peer instead of 1 MiB: on loopback and LANs
		// this lifted measured throughput about 1.4x (bench/p2p) for little memory in
		// our small networks.
		bitswap.MaxOutstandingBytesPerPeer(8<<20),
	)
	if !n.cfg.NoCARStream {
		n.startCARServer()
	}

	n.ps, err = pubsub.NewGossipSub(n.ctx, n.host,
		// Advertise and find topic peers through our DHT so gossip reaches
		// nodes we were not otherwise connected to.
		pubsub.WithDiscovery(drouting.NewRoutingDiscovery(n.dht)),
	)
	if err != nil {
		return fmt.Errorf("p2p: start gossipsub: %w", err)
	}
	if err := n.ps.RegisterTopicValidator(BuildsTopic, n.validateRecordMsg); err != nil {
		return fmt.Errorf("p2p: register %s validator: %w", BuildsTopic, err)
	}
	n.topic, err = n.ps.Join(BuildsTopic)
	if err != nil {
		return fmt.Errorf("p2p: join %s: %w", BuildsTopic, err)
	}

	// Bootstrap dials are best effort: a node whose bootstrap peers are all
	// down still serves its own blocks and finds LAN peers by mDNS.
	var connected int
	for _, pi := range bootstrap {
		if err := n.Connect(ctx, pi); err != nil {
			n.log.Warn("bootstrap peer unreachable", "peer", pi.ID, "err", err)
			continue
		}
		connected++
	}
	if len(bootstrap) > 0 && connected == 0 {
		n.log.Warn("no bootstrap peer reachable", "tried", len(bootstrap))
	}
	if err := n.dht.Bootstrap(n.ctx); err != nil {
		return fmt.Errorf("p2p: bootstrap DHT: %w", err)
	}

	if n.cfg.EnableMDNS {
		name := n.cfg.MDNSServiceName
		if name == "" {
			name = DefaultMDNSServiceName
		}
		n.mdns = mdns.NewMdnsService(n.host, name, mdnsNotifee{n})
		if err := n.mdns.Start(); err != nil {
			return fmt.Errorf("p2p: start mDNS: %w", err)
		}
	}

	if n.cfg.ReannounceInterval >= 0 {
		interval := n.cfg.ReannounceInterval
		if interval == 0 {
			interval = DefaultReannounceInterval
		}
		n.wg.Add(1)
		go n.reannounceLoop(interval)
	}
	if n.cfg.ReprovideInterval >= 0 {
		interval := n.cfg.ReprovideInterval
		if interval == 0 {
			interval = DefaultReprovideInterval
		}
		n.wg.Add(1)
		go n.reprovideLoop(interval)
	}
	return nil
}

// ID is the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Host exposes the libp2p host (for status output and tests).
func (n *Node) Host() host.Host { return n.host }

// Addrs returns the node's dialable addresses, each ending in /p2p/{id}, as
// accepted by Config.Bootstrap.
func (n *Node) Addrs() []ma.Multiaddr {
	out, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()})
	if err != nil {
		return nil // only fails for an empty ID, which a running host never has
	}
	return out
}

// AddrInfo returns the node's ID and addresses.
func (n *Node) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
}

// Connect dials a peer and keeps its addresses.
func (n *Node) Connect(ctx context.Context, pi peer.AddrInfo) error {
	if pi.ID == n.host.ID() {
		return nil
	}
	if err := n.host.Connect(ctx, pi); err != nil {
		return fmt.Errorf("p2p: connect to %s: %w", pi.ID, err)
	}
	return nil
}

// Peers lists the currently connected peers.
func (n *Node) Peers() []peer.ID { return n.host.Network().Peers() }

// Close stops every service and the host. Safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.cancel()
		var errs []error
		if n.mdns != nil {
			errs = append(errs, n.mdns.Close())
		}
		if n.topic != nil {
			// Close fails while subscriptions are open; they end with n.ctx.
			_ = n.topic.Close()
		}
		if n.bswap != nil {
			errs = append(errs, n.bswap.Close())
		}
		if n.dht != nil {
			errs = append(errs, n.dht.Close())
		}
		errs = append(errs, n.host.Close())
		n.wg.Wait()
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// ParseAddrInfos parses multiaddrs ending in /p2p/{id}, merging addresses of
// the same peer.
func ParseAddrInfos(addrs []string) ([]peer.AddrInfo, error) {
	mas := make([]ma.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("p2p: bad multiaddr %q: %w", s, err)
		}
		mas = append(mas, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("p2p: peer addresses must end in /p2p/{peer id}: %w", err)
	}
	return infos, nil
}

type mdnsNotifee struct{ n *Node }

// mdnsDialAttempts and mdnsYield shape HandlePeerFound's dialling (see there).
const (
	mdnsDialAttempts = 4
	mdnsYield        = time.Second
)

// HandlePeerFound connects to a LAN peer and protects the connection.
//
// Two nodes find each other by mDNS at about the same moment, and libp2p's TCP transport dials
// from its listening port (port reuse), so two dials at once can meet as one TCP simultaneous
// open in which both ends act as the TLS client: both handshakes fail ("unexpected handshake
// message"), and zeroconf reports each peer once only. So the node with the larger peer ID first
// yields a moment for the other's dial to arrive, and a failed dial is retried a few times after
// a random wait, bypassing the swarm's dial backoff.
func (m mdnsNotifee) HandlePeerFound(pi peer.AddrInfo) {
	n := m.n
	if pi.ID == n.host.ID() || n.ctx.Err() != nil {
		return
	}
	wait := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-n.ctx.Done():
			return false
		}
	}
	if n.host.ID() > pi.ID && !wait(mdnsYield) {
		return
	}
	var err error
	for attempt := 1; attempt <= mdnsDialAttempts; attempt++ {
		ctx, cancel := context.WithTimeout(network.WithForceDirectDial(n.ctx, "mDNS peer"), 10*time.Second)
		err = n.Connect(ctx, pi)
		cancel()
		if err == nil {
			n.host.ConnManager().Protect(pi.ID, mdnsTag)
			n.log.Debug("mDNS peer connected", "peer", pi.ID, "attempt", attempt)
			return
		}
		if attempt < mdnsDialAttempts && !wait(mdnsYield/2+rand.N(mdnsYield)) {
			return
		}
	}
	n.log.Debug("mDNS peer unreachable", "peer", pi.ID, "err", err)
}

// IsLocalPeer reports whether p was found by mDNS.
func (n *Node) IsLocalPeer(p peer.ID) bool {
	return n.host.ConnManager().IsProtected(p, mdnsTag)
}

// Status is a snapshot for `node status` and metrics.
type Status struct {
	ID              peer.ID
	Addrs           []ma.Multiaddr
	Peers           int // connected peers
	LocalPeers      int // of which found by mDNS
	RoutingTable    int // DHT routing table size
	TopicPeers      int // peers on BuildsTopic
	ProvidedRoots   int // roots this node announces
	TrustedBuilders int
}

// Status reports the node's view of the network.
func (n *Node) Status() Status {
	st := Status{
		ID:           n.host.ID(),
		Addrs:        n.Addrs(),
		RoutingTable: n.dht.RoutingTable().Size(),
		TopicPeers:   len(n.topic.ListPeers()),
	}
	for _, p := range n.host.Network().Peers() {
		st.Peers++
		if n.IsLocalPeer(p) {
			st.LocalPeers++
		}
	}
	n.mu.Lock()
	st.ProvidedRoots = len(n.provided)
	st.TrustedBuilders = len(n.trusted)
	n.mu.Unlock()
	return st
}
