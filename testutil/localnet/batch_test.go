package localnet

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TxsAtOnce on a real 1-node localnet: one signer's txs (one refused by the CLI, one that
// fails in its block, two that succeed) and another signer's, all sent before any block.
func TestTxsAtOnceOnLocalnet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a localnet")
	}
	net := Start(t, Options{Nodes: 1})
	bob := net.Addr(t, "bob")
	out := "bafybeihz5vopjaclwa52fklwl42aj7ph72cbf4ykiq7mneryyl7o5qjdd4"
	for round := 0; round < 3; round++ {
		res := net.TxsAtOnce(t,
			[]string{"claims", "commit", "999999", "1", out, "10", "--from", "alice"},
			[]string{"bank", "send", "alice", bob, "5ubct", "--from", "alice"},
			[]string{"claims", "commit", "999999", "1", "not-a-cid", "10", "--from", "alice"},
			[]string{"bank", "send", "carol", bob, "7ubct", "--from", "carol"},
			[]string{"bank", "send", "alice", bob, "6ubct", "--from", "alice"},
		)
		require.NoError(t, res[0].CLI.Err)
		require.NotZero(t, res[0].Res.Code)
		require.Contains(t, res[0].Res.RawLog, "claim not found")
		for _, i := range []int{1, 3, 4} {
			require.NoError(t, res[i].CLI.Err, "tx %d", i)
			require.Zero(t, res[i].Res.Code, "tx %d: %s", i, res[i].Res.RawLog)
			require.NotEmpty(t, res[i].Res.Height, "tx %d", i)
		}
		require.Error(t, res[2].CLI.Err)
	}
}
