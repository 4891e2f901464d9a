package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

// Gossip of build records between real nodes: records are signed, verified
// on arrival, and marked trusted or not; forged and garbage messages sent by
// a raw gossipsub peer never surface.
func TestGossipRecordsTrustAndForgery(t *testing.T) {
	a := newTestNode(t) // trusted by C
	b := newTestNode(t) // not trusted
	c := newTestNode(t, func(cfg *Config) {})
	connect(t, c, a)
	connect(t, c, b)
	c.Trust(a.ID())

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs, err := c.Subscribe(ctx)
	require.NoError(t, err)

	// A forger: a plain libp2p host with its own gossipsub on the topic.
	fh, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	t.Cleanup(func() { fh.Close() })
	fps, err := pubsub.NewGossipSub(ctx, fh)
	require.NoError(t, err)
	ftopic, err := fps.Join(BuildsTopic)
	require.NoError(t, err)
	require.NoError(t, fh.Connect(ctx, peer.AddrInfo{ID: c.ID(), Addrs: c.Host().Addrs()}))

	// Publishers must have seen C's subscription before they publish.
	require.True(t, eventually(15*time.Second, func() bool {
		return peerIn(a.TopicPeers(), c.ID()) && peerIn(b.TopicPeers(), c.ID()) && peerIn(ftopic.ListPeers(), c.ID())
	}), "topic peers never saw the subscriber")

	drv, out := testCid(t, "drv"), testCid(t, "out")
	fkey := fh.Peerstore().PrivKey(fh.ID())

	// 1. garbage; 2. a record claiming A as builder, signed by the forger;
	// 3. A's genuine signature over a different output.
	require.NoError(t, ftopic.Publish(ctx, []byte("garbage")))
	forged, err := SignRecord(fkey, BuildRecord{Derivation: drv, Output: out})
	require.NoError(t, err)
	forged.Builder = a.ID()
	data, err := MarshalRecord(forged)
	require.NoError(t, err)
	require.NoError(t, ftopic.Publish(ctx, data))
	genuine, err := SignRecord(a.host.Peerstore().PrivKey(a.ID()), BuildRecord{Derivation: drv, Output: out})
	require.NoError(t, err)
	genuine.Output = testCid(t, "tampered")
	data, err = MarshalRecord(genuine)
	require.NoError(t, err)
	require.NoError(t, ftopic.Publish(ctx, data))

	// Valid records: the forger's own (untrusted), A's (trusted), B's (untrusted).
	own, err := SignRecord(fkey, BuildRecord{Derivation: drv, Output: testCid(t, "forger-out")})
	require.NoError(t, err)
	data, err = MarshalRecord(own)
	require.NoError(t, err)
	require.NoError(t, ftopic.Publish(ctx, data))
	fromA, err := a.Announce(ctx, BuildRecord{Derivation: drv, Output: out, Address: "bc1aaa"})
	require.NoError(t, err)
	fromB, err := b.Announce(ctx, BuildRecord{Derivation: drv, Output: testCid(t, "b-out")})
	require.NoError(t, err)

	got := map[peer.ID]ReceivedRecord{}
	timeout := time.After(20 * time.Second)
	for len(got) < 3 {
		select {
		case r := <-recs:
			_, dup := got[r.Builder]
			require.False(t, dup, "second record from %s: %+v", r.Builder, r)
			got[r.Builder] = r
		case <-timeout:
			t.Fatalf("only %d of 3 valid records arrived: %v", len(got), got)
		}
	}
	// Anything forged would have been validated by now; give it a moment.
	select {
	case r := <-recs:
		t.Fatalf("unexpected record surfaced: %+v", r)
	case <-time.After(time.Second):
	}

	ra := got[a.ID()]
	require.True(t, ra.Trusted)
	require.True(t, ra.Output.Equals(out))
	require.Equal(t, "bc1aaa", ra.Address)
	require.Equal(t, fromA.Signature, ra.Signature)
	require.Equal(t, a.ID(), ra.From)

	rb := got[b.ID()]
	require.False(t, rb.Trusted)
	require.True(t, rb.Output.Equals(fromB.Output))

	rf := got[fh.ID()]
	require.False(t, rf.Trusted)
	require.True(t, rf.Output.Equals(own.Output))

	// Trust is live: after Untrust, A's next record is untrusted.
	c.Untrust(a.ID())
	require.False(t, c.IsTrusted(a.ID()))
	require.True(t, c.IsTrusted(c.ID()))
	_, err = a.Announce(ctx, BuildRecord{Derivation: drv, Output: out})
	require.NoError(t, err)
	select {
	case r := <-recs:
		require.Equal(t, a.ID(), r.Builder)
		require.False(t, r.Trusted)
	case <-time.After(20 * time.Second):
		t.Fatal("second record from A never arrived")
	}
}

// Records reach every subscribed node of a network joined through bootstrap
// peers only (A <- B <- C), whether gossip relays them through B or topic
// discovery over the DHT connected A and C directly.
func TestGossipReachesBootstrappedNodes(t *testing.T) {
	a := newTestNode(t)
	b := newTestNode(t, withBootstrap(a))
	c := newTestNode(t, withBootstrap(b))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recsB, err := b.Subscribe(ctx) // B must be subscribed to relay
	require.NoError(t, err)
	recsC, err := c.Subscribe(ctx)
	require.NoError(t, err)
	require.True(t, eventually(15*time.Second, func() bool {
		return peerIn(a.TopicPeers(), b.ID()) && peerIn(b.TopicPeers(), c.ID()) && peerIn(c.TopicPeers(), b.ID())
	}))
	// Gossip is best effort while the mesh forms: a message forwarded just
	// before a peer is grafted into the mesh can miss it (it is then a mesh
	// peer and gets no IHAVE gossip either). Builders therefore re-announce;
	// so does this test, every 2 s, until both nodes have a record.
	got := map[int]ReceivedRecord{}
	signed := map[string]bool{}
	announce := time.NewTicker(2 * time.Second)
	defer announce.Stop()
	deadline := time.After(30 * time.Second)
	for len(got) < 2 {
		rec, err := a.Announce(ctx, BuildRecord{Derivation: testCid(t, "d"), Output: testCid(t, "o")})
		require.NoError(t, err)
		signed[string(rec.Signature)] = true
	wait:
		for {
			select {
			case r := <-recsB:
				got[0] = r
			case r := <-recsC:
				got[1] = r
			case <-announce.C:
				break wait
			case <-deadline:
				t.Fatalf("records reached only %d of [B C]", len(got))
			}
			if len(got) == 2 {
				break wait
			}
		}
	}
	for _, r := range got {
		require.Equal(t, a.ID(), r.Builder)
		require.True(t, signed[string(r.Signature)])
		require.NoError(t, r.Verify())
		require.False(t, r.Trusted)
	}
}

// A node that joins after a record was announced still gets it: the builder
// re-announces its recent records.
func TestGossipReannounceReachesLateJoiner(t *testing.T) {
	a := newTestNode(t, func(c *Config) { c.ReannounceInterval = 300 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := a.Announce(ctx, BuildRecord{Derivation: testCid(t, "d1"), Output: testCid(t, "o1")})
	require.NoError(t, err)
	// A newer record for the same pair replaces the first one.
	time.Sleep(2 * time.Millisecond)
	second, err := a.Announce(ctx, BuildRecord{Derivation: testCid(t, "d1"), Output: testCid(t, "o1")})
	require.NoError(t, err)
	require.NotEqual(t, first.Signature, second.Signature)
	other, err := a.Announce(ctx, BuildRecord{Derivation: testCid(t, "d2"), Output: testCid(t, "o2")})
	require.NoError(t, err)

	late := newTestNode(t)
	late.Trust(a.ID())
	recs, err := late.Subscribe(ctx)
	require.NoError(t, err)
	connect(t, late, a)

	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case r := <-recs:
			require.True(t, r.Trusted)
			require.NotEqual(t, string(first.Signature), string(r.Signature), "a replaced record was re-announced")
			got[string(r.Signature)] = true
		case <-ctx.Done():
			t.Fatalf("late joiner got %d of 2 records", len(got))
		}
	}
	require.True(t, got[string(second.Signature)])
	require.True(t, got[string(other.Signature)])
}
