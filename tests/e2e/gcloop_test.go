package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/testutil/gcloop"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// TestGCDuringSidecarBuildsOnChain is node/runtime's TestGCDuringSidecarBuilds against the real
// chain (one CometBFT authority, x/claims assigning): the builder's store is garbage-collected
// in a loop, with fresh garbage between collections, while its sidecar follows the chain,
// fetches each claimed derivation and its inputs from the publisher over libp2p, rebuilds it in
// the sandbox and reports. Every claim ends VALID with the publisher's output, and afterwards
// every output is whole in the builder's store and pinned there, though the GC did sweep.
func TestGCDuringSidecarBuildsOnChain(t *testing.T) {
	needRootFUSE(t)
	net := localnet.Start(t, localnet.Options{Nodes: 1,
		GenesisJQ: `.app_state.claims.params.min_rounds = 1 | .app_state.claims.params.p_continue = "0.000000000000000000" | .app_state.claims.params.report_timeout_blocks = "600"`})
	env := sidecartest.NewEnv(t, net)
	ctx := context.Background()
	pub := env.NewPeer("publisher", "val0", 0)
	alice := env.NewPeer("alice", "alice", 0, pub)
	env.Register(alice)
	env.StartSidecar(alice)

	gc := gcloop.Start(t, alice.Store)

	const claims = 3
	ids := make([]uint64, claims)
	outs := make([]cid.Cid, claims)
	for i := range ids {
		ids[i], _, outs[i], _, _ = pub.Publish(t, pub.Hello(t, fmt.Sprintf("gc-loop-%d", i)), cid.Undef)
	}
	for i, id := range ids {
		c := sidecartest.WaitClaim(t, pub.Claims, id, 5*time.Minute, "VALID", func(c claimstypes.Claim) bool {
			return c.Status == claimstypes.CLAIM_STATUS_VALID
		})
		for _, a := range c.Assignments {
			require.Equal(t, outs[i].String(), a.OutputCid, "claim %d: alice rebuilt the publisher's output", id)
		}
	}
	gcs, swept, err := gc.Stop()
	require.NoError(t, err)
	t.Logf("%d collections during the builds swept %d blocks", gcs, swept)
	require.Positive(t, gcs)
	require.Positive(t, swept, "the GC loop did sweep")

	// One more collection: every output is still whole (each block present and hash-checked)
	// and pinned in alice's store.
	_, err = alice.Store.GC(ctx)
	require.NoError(t, err)
	roots, err := runtime.PinnedRoots(alice.Store)
	require.NoError(t, err)
	for i, out := range outs {
		cl, err := alice.Store.Closure(out)
		require.NoError(t, err, "output %d", i)
		for _, b := range cl {
			_, err := alice.Store.GetBlock(b)
			require.NoError(t, err, "output %d block %s", i, b)
		}
		require.Contains(t, roots, out)
	}
}
