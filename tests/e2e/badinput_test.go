package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// Bad input gets a clear error and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a network")
	}
	net := localnet.Start(t, localnet.Options{Nodes: 1})
	alice, bob := net.Addr(t, "alice"), net.Addr(t, "bob")
	aliceBefore, bobBefore := allBalancesREST(t, net, 0, alice), allBalancesREST(t, net, 0, bob)

	cliErr := func(t *testing.T, wantInErr string, args ...string) {
		t.Helper()
		res, r := net.BroadcastTx(args...)
		require.Error(t, r.Err, "expected a CLI error, got tx %+v", res)
		require.Contains(t, strings.ToLower(r.Stderr+r.Stdout), wantInErr)
	}

	// The refusals that send nothing (CLI errors, CheckTx, REST) run side by side.
	t.Run("refused", func(t *testing.T) {
		t.Run("malformed recipient", func(t *testing.T) {
			t.Parallel()
			cliErr(t, "bech32", "bank", "send", "alice", "bc1notanaddress", "5"+denom)
		})
		t.Run("recipient of another chain", func(t *testing.T) {
			t.Parallel()
			// Valid bech32, wrong prefix.
			cliErr(t, "prefix", "bank", "send", "alice", "cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu", "5"+denom)
		})
		t.Run("unknown sender key", func(t *testing.T) {
			t.Parallel()
			cliErr(t, "not found", "bank", "send", "mallory", bob, "5"+denom)
		})
		t.Run("negative amount", func(t *testing.T) {
			t.Parallel()
			cliErr(t, "-5", "bank", "send", "alice", bob, "-5"+denom)
		})
		t.Run("zero amount", func(t *testing.T) {
			t.Parallel()
			cliErr(t, "invalid coins", "bank", "send", "alice", bob, "0"+denom)
		})
		t.Run("malformed amount", func(t *testing.T) {
			t.Parallel()
			cliErr(t, "invalid", "bank", "send", "alice", bob, "five"+denom)
		})
		t.Run("wrong chain id", func(t *testing.T) {
			t.Parallel()
			res, r := net.BroadcastTx("bank", "send", "alice", bob, "5"+denom, "--chain-id", "otherchain-7")
			require.NoError(t, r.Err, "stderr: %s", r.Stderr)
			// Signed for another chain: the signature does not verify here, CheckTx refuses it.
			require.NotZero(t, res.Code)
			require.Contains(t, res.RawLog, "signature verification failed")
			// The error names the chain id the node expects.
			require.Contains(t, res.RawLog, "chain-id (buildchain-1)")
		})
		t.Run("malformed address over REST", func(t *testing.T) {
			t.Parallel()
			var out map[string]any
			err := net.RESTErr(0, "/cosmos/bank/v1beta1/balances/bc1notanaddress", &out)
			require.Error(t, err)
			require.Contains(t, err.Error(), "decoding bech32")
		})
	})
	// Two txs from alice that fail in their block: sent at once, one block instead of two.
	t.Run("insufficient funds", func(t *testing.T) {
		for i, o := range net.TxsAtOnce(t,
			[]string{"bank", "send", "alice", bob, "5uatom", "--from", "alice"},                     // a denom nobody holds
			[]string{"bank", "send", "alice", bob, "999999999999999999" + denom, "--from", "alice"}, // more than the balance
		) {
			require.NoError(t, o.CLI.Err, "tx %d: %s", i, o.CLI.Stderr)
			require.NotZero(t, o.Res.Code, "tx %d", i)
			require.Contains(t, o.Res.RawLog, "insufficient funds", "tx %d", i)
		}
	})

	// Nothing moved.
	net.WaitHeight(t, 0, net.Height(t, 0)+1, 20*time.Second)
	require.Equal(t, aliceBefore, allBalancesREST(t, net, 0, alice))
	require.Equal(t, bobBefore, allBalancesREST(t, net, 0, bob))

	t.Run("second localnet start", func(t *testing.T) {
		pid := net.PID(0)
		h := net.Height(t, 0)
		out, err := net.Script("start")
		require.Error(t, err)
		require.Contains(t, out, "already running")
		require.Contains(t, out, "Nothing was changed")
		// Same process, still producing blocks.
		require.Equal(t, pid, net.PID(0))
		net.WaitHeight(t, 0, h+2, 20*time.Second)
	})
	t.Run("another localnet on the same ports", func(t *testing.T) {
		other := localnet.New(t, localnet.Options{Nodes: 1, PortBase: net.PortBase})
		out, err := other.Script("start", "1")
		require.Error(t, err)
		require.Contains(t, out, "ports in use")
		_, statErr := os.Stat(other.Dir)
		require.True(t, os.IsNotExist(statErr), "a refused start created %s", other.Dir)
	})
	t.Run("start with another node count", func(t *testing.T) {
		out, err := net.Script("start", "3")
		require.Error(t, err)
		require.Contains(t, out, "already running")
	})

	t.Run("stop then start resumes the same chain", func(t *testing.T) {
		h := net.Height(t, 0)
		out, err := net.Script("stop")
		require.NoError(t, err, out)
		_, err = net.Status(0)
		require.Error(t, err, "node still answers after stop")
		out, err = net.Script("start")
		require.NoError(t, err, out)
		require.Contains(t, out, "restarting the existing")
		net.WaitHeight(t, 0, h+2, 30*time.Second)
		require.Equal(t, aliceBefore, allBalancesREST(t, net, 0, alice))
	})
}
