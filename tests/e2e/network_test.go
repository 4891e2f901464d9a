package e2e

import (
	"regexp"
	"testing"
	"time"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// A 4-authority network: a CLI transfer is visible over REST and gRPC on other nodes; with one
// authority SIGKILLed the others keep producing blocks; restarted, it catches up and all four
// agree on the app hash at a common height.
func TestTransferKillRestartSameAppHash(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a 4-process network")
	}
	net := localnet.Start(t, localnet.Options{Nodes: 4})
	bob := net.Addr(t, "bob")

	before := balanceREST(t, net, 1, bob)
	amount := sdkmath.NewInt(1_234_567)
	res := net.Tx(t, "bank", "send", "alice", bob, amount.String()+denom)
	require.Zero(t, res.Code, "transfer failed: %s", res.RawLog)
	want := before.Add(amount)

	// Seen on node 1 over REST and on node 2 over gRPC (the tx went through node 0).
	eventually(t, 10*time.Second, "bob's balance on node1 (REST)", func() bool {
		return balanceREST(t, net, 1, bob).Equal(want)
	})
	eventually(t, 10*time.Second, "bob's balance on node2 (gRPC)", func() bool {
		return balanceGRPC(t, net, 2, bob).Equal(want)
	})

	// Crash authority 3. Three of four hold > 2/3 of the power: blocks go on.
	net.Kill(t, 3)
	h := net.Height(t, 0)
	net.WaitHeight(t, 0, h+3, 30*time.Second)
	_, err := net.Status(3)
	require.Error(t, err, "node 3 still answers after SIGKILL")
	eventually(t, 20*time.Second, "localnet status: node3 stopped, node0 with 2 peers", func() bool {
		out, err := net.Script("status")
		return err == nil && regexp.MustCompile(`(?m)^node3\s+stopped`).MatchString(out) &&
			regexp.MustCompile(`(?m)^node0\s+running pid \d+\s+height \d+\s+peers 2$`).MatchString(out)
	})

	// A transfer while it is down, so catching up means replaying real transactions.
	res = net.Tx(t, "bank", "send", "alice", bob, amount.String()+denom)
	require.Zero(t, res.Code, "transfer with node 3 down failed: %s", res.RawLog)
	want = want.Add(amount)

	net.StartNode(t, 3)
	target := net.Height(t, 0)
	net.WaitHeight(t, 3, target, 90*time.Second)
	eventually(t, 30*time.Second, "node3 running with 3 peers in localnet status", func() bool {
		out, err := net.Script("status")
		return err == nil && regexp.MustCompile(`(?m)^node3\s+running pid \d+\s+height \d+\s+peers 3$`).MatchString(out)
	})
	eventually(t, 10*time.Second, "bob's balance on the restarted node3", func() bool {
		return balanceREST(t, net, 3, bob).Equal(want)
	})

	// Every node committed the same state at a height all of them have (h+1 must exist too).
	net.WaitHeight(t, 3, target+1, 30*time.Second)
	common := target
	hashes := make([]string, net.Nodes)
	for i := 0; i < net.Nodes; i++ {
		hashes[i], err = net.AppHashAt(i, common)
		require.NoError(t, err)
	}
	for i := 1; i < net.Nodes; i++ {
		require.Equal(t, hashes[0], hashes[i], "node %d app hash at height %d differs from node 0", i, common)
	}
	require.NotEmpty(t, hashes[0])
}
