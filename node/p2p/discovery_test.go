package p2p

import (
	"context"
	"fmt"
	cid "github.com/ipfs/go-cid"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// DHT provider lookup between nodes that only know a bootstrap node, with no
// mDNS: A provides a root, C finds A through B's DHT and fetches from A.
func TestDHTProviderLookupAndFetch(t *testing.T) {
	b := newTestNode(t)                   // bootstrap node, holds nothing
	a := newTestNode(t, withBootstrap(b)) // provider
	c := newTestNode(t, withBootstrap(b)) // fetcher
	data := randomBytes(4, 300<<10)
	root := importFile(t, a.bstore, data, 4096, 16)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Both routing tables must know B before A can store a record at B.
	require.True(t, eventually(10*time.Second, func() bool {
		return a.dht.RoutingTable().Size() > 0 && c.dht.RoutingTable().Size() > 0
	}), "routing tables stay empty")
	require.NoError(t, a.Provide(ctx, root))

	provs := waitProviders(t, c, root, a.ID())
	require.Len(t, provs, 1)
	require.NotEmpty(t, provs[0].Addrs)

	st0 := a.Status()
	require.Equal(t, 1, st0.ProvidedRoots)
	require.GreaterOrEqual(t, st0.Peers, 1)
	require.GreaterOrEqual(t, st0.RoutingTable, 1)

	// B never held the data: C's blocks can only have come from A.
	st, err := c.FetchClosure(ctx, root, nil)
	require.NoError(t, err)
	require.Equal(t, st.Blocks, st.Fetched)
	require.Equal(t, data, readFileBytes(t, c.bstore, root))
	has, err := b.bstore.Has(ctx, root)
	require.NoError(t, err)
	require.False(t, has)

	// After fetching, C provides the root too (in the background).
	require.Len(t, waitProviders(t, b, root, a.ID(), c.ID()), 2, "fetcher did not become a provider")
}

// Providing a block the node does not hold is refused.
func TestProvideRequiresLocalBlock(t *testing.T) {
	a := newTestNode(t)
	other := newMemStore()
	root := importFile(t, other, randomBytes(5, 10<<10), 1024, 8)
	err := a.Provide(context.Background(), root)
	require.ErrorContains(t, err, "not in the local store")
}

// Reprovide announces provided roots and the roots the store lists.
func TestReprovideIncludesStoreRoots(t *testing.T) {
	b := newTestNode(t)
	bs := newMemStore()
	r1 := importFile(t, bs, randomBytes(6, 10<<10), 1024, 8)
	r2 := importFile(t, bs, randomBytes(7, 10<<10), 1024, 8)
	a := newTestNode(t, withBootstrap(b), func(c *Config) {
		c.Blockstore = bs
		c.Roots = func(context.Context) ([]cid.Cid, error) { return []cid.Cid{r1, r2}, nil }
	})
	require.True(t, eventually(10*time.Second, func() bool { return a.dht.RoutingTable().Size() > 0 }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.Equal(t, 2, a.Reprovide(ctx))
	for _, r := range []cid.Cid{r1, r2} {
		require.Len(t, waitProviders(t, b, r, a.ID()), 1)
	}
}

// mDNSNetnsEnv marks the test binary re-executed inside its own network namespace.
const mDNSNetnsEnv = "P2P_MDNS_NETNS"

// mDNS discovery: two nodes with no bootstrap peers find each other on the
// LAN multicast group and exchange a DAG. The test re-executes itself in a
// network namespace of its own with one veth pair, so the multicast group is
// private to it: the machine's interfaces (which may have no multicast, a
// firewall, or other mDNS traffic) play no part. The kernel loops multicast
// back to the sending host, so the two nodes in one process see each other.
func TestMDNSDiscovery(t *testing.T) {
	if os.Getenv(mDNSNetnsEnv) == "" {
		runInOwnNetns(t, "TestMDNSDiscovery")
		return
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "mdns0", "type", "veth", "peer", "name", "mdns1"},
		{"addr", "add", "10.99.0.1/24", "dev", "mdns0"},
		{"link", "set", "mdns1", "up"},
		{"link", "set", "mdns0", "up"},
	} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %v: %s", args, out)
	}
	require.True(t, hasMulticastInterface(), "the veth pair is not an up, multicast-capable interface")
	svc := fmt.Sprintf("_bctest%d._udp", rand.Uint32())
	mdnsOn := func(c *Config) { c.EnableMDNS = true; c.MDNSServiceName = svc }
	a := newTestNode(t, mdnsOn)
	b := newTestNode(t, mdnsOn)
	ok := eventually(20*time.Second, func() bool {
		return b.IsLocalPeer(a.ID()) && a.IsLocalPeer(b.ID())
	})
	require.True(t, ok, "mDNS peers did not find each other")
	require.Equal(t, 1, b.Status().LocalPeers)

	root := importFile(t, a.bstore, randomBytes(8, 50<<10), 1024, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, b.Fetch(ctx, root, nil))
	requireSameBlocks(t, a.bstore, b.bstore, closure(t, a.bstore, root))
}

// runInOwnNetns runs test in this test binary re-executed by unshare(1) in a new network
// namespace (as root, or as root of a new user namespace otherwise) and fails t if it fails.
// It skips only where namespaces cannot be made at all.
func runInOwnNetns(t *testing.T, test string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8) (iproute2; scripts/deps.sh installs it)")
	}
	argv := []string{"--net"}
	if os.Geteuid() != 0 {
		argv = append(argv, "--map-root-user")
	}
	if probe := exec.Command("unshare", append(argv, "true")...); probe.Run() != nil {
		t.Skip("cannot make a network namespace here (unshare --net refused)")
	}
	argv = append(argv, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd := exec.Command("unshare", argv...)
	cmd.Env = append(os.Environ(), mDNSNetnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s in its own network namespace:\n%s", test, out)
	require.Contains(t, string(out), "--- PASS: "+test, "the re-executed test did not run:\n%s", out)
}

// hasMulticastInterface reports whether mDNS can work here: zeroconf sends
// on up, multicast-capable interfaces (loopback is not one).
func hasMulticastInterface() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast != 0 {
			return true
		}
	}
	return false
}
