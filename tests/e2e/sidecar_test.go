package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/sidecar"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

func needRootFUSE(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: sandbox namespaces, cgroups and FUSE mounts")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("needs /dev/fuse for the store's FUSE view")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs Debian busybox-static (/bin/busybox) for the bootstrap tools")
	}
}

// reportsOf counts, per (round, validator), the reports a claim holds.
func reportsOf(c claimstypes.Claim) map[string]int {
	out := map[string]int{}
	for _, a := range c.Assignments {
		if a.OutputCid != "" {
			out[a.Validator]++
		}
	}
	return out
}

// TestSidecarPublishToValid: 4 authorities, 3 build validators with their own
// store, FUSE view, sandbox and libp2p node; a publisher publishes hello; the
// assigned builders fetch the inputs from the publisher over bitswap,
// rebuild, report, and the claim goes VALID.
func TestSidecarPublishToValid(t *testing.T) {
	needRootFUSE(t)
	net := localnet.Start(t, localnet.Options{Nodes: 4, PortBase: sidecarPortBase()})
	env := sidecartest.NewEnv(t, net)

	pub := env.NewPeer("publisher", "val0", 0)
	names := []string{"alice", "bob", "carol"}
	var builders []*sidecartest.Peer
	var running []*sidecartest.Running
	for i, name := range names {
		p := env.NewPeer(name, name, i+1, pub)
		env.Register(p)
		builders = append(builders, p)
	}
	for _, p := range builders {
		running = append(running, env.StartSidecar(p))
	}

	drv := pub.Hello(t, "")
	id, resolved, out, _, _ := pub.Publish(t, drv, cid.Undef)
	t.Logf("claim %d: %s -> %s", id, resolved, out)
	c := sidecartest.WaitClaim(t, pub.Claims, id, 3*time.Minute, "VALID", func(c claimstypes.Claim) bool {
		return c.Status == claimstypes.CLAIM_STATUS_VALID
	})
	t.Logf("VALID after %d rounds: %s", c.Round, sidecartest.FmtAssignments(c))
	for v, n := range reportsOf(c) {
		require.Equal(t, 1, n, "validator %s reported once", v)
	}
	for _, a := range c.Assignments {
		require.Equal(t, out.String(), a.OutputCid, "every rebuild gave the publisher's output")
		require.NotZero(t, a.BuildTimeMs)
	}
	v, found, err := pub.Claims.VerifiedOutput(context.Background(), resolved)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, out.String(), v.OutputCid)
	_ = running
	_ = sidecar.JobSent
}

// sidecarPortBase keeps the sidecar tests' localnets off the port blocks the
// other e2e tests take by default (36000+), so the suites can run side by side.
func sidecarPortBase() int {
	sidecarNets++
	return 46000 + 100*sidecarNets
}

var sidecarNets int
