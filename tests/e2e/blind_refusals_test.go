package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// checkOpenProtocolRefused sends what no CLI command builds any more, as raw signed txs: an
// open MsgSubmitClaim from publisher naming its output (output_cid, no commitment) and a
// MsgReportBuild from validator for the round of claim id that is assigned to it now. The chain
// refuses both with ErrOpenClaim (x/claims/README.md §Blind rounds), so nothing moves: no claim,
// no coin, the claim and its round unchanged (the validator can still commit).
func checkOpenProtocolRefused(t *testing.T, net *localnet.Net, publisher, validator string, id uint64, round int) {
	t.Helper()
	pub := net.Addr(t, publisher)
	var mine struct {
		Pagination struct {
			Total string `json:"total"`
		} `json:"pagination"`
	}
	count := func() string {
		net.REST(t, 0, "/buildchain/claims/v1/publishers/"+pub+"/claims?pagination.count_total=true", &mine)
		return mine.Pagination.Total
	}
	claimsBefore, balBefore, claimBefore := count(), allBalancesREST(t, net, 0, pub), getClaimREST(t, net, 0, id)
	require.Equal(t, "CLAIM_STATUS_ASSIGNED", claimBefore.Status)

	want := claimstypes.ErrOpenClaim
	for _, tc := range []struct {
		from string
		msg  map[string]any
	}{
		{publisher, map[string]any{"@type": "/buildchain.claims.v1.MsgSubmitClaim", "publisher": pub,
			"derivation_cid": claimTestCID(cid.DagJSON, "drv open"), "output_cid": claimTestCID(cid.DagProtobuf, "out open"),
			"system": "x86_64-linux", "deposit": map[string]string{"denom": denom, "amount": "10000000"}}},
		{validator, map[string]any{"@type": "/buildchain.claims.v1.MsgReportBuild", "validator": net.Addr(t, validator),
			"claim_id": strconv.FormatUint(id, 10), "round": round, "output_cid": claimTestCID(cid.DagProtobuf, "out open"), "build_time_ms": "10"}},
	} {
		res := rawTx(t, net, tc.from, tc.msg)
		require.Equal(t, want.Codespace(), res.Codespace, "%s: %s", tc.msg["@type"], res.RawLog)
		require.Equal(t, want.ABCICode(), res.Code, "%s: %s", tc.msg["@type"], res.RawLog)
		t.Logf("refused %s: code %d (%s)", tc.msg["@type"], res.Code, res.RawLog)
	}
	require.Equal(t, claimsBefore, count(), "an open claim was created")
	require.Equal(t, balBefore, allBalancesREST(t, net, 0, pub), "a refused tx moved the publisher's coins")
	require.Equal(t, claimBefore, getClaimREST(t, net, 0, id), "an open report changed the claim")
}

// rawTx signs a tx carrying msg (proto JSON, any Msg the CLI would not build) as key from and
// broadcasts it. It returns the CheckTx response if that refused it, else the block's result.
func rawTx(t *testing.T, net *localnet.Net, from string, msg map[string]any) localnet.TxResponse {
	t.Helper()
	// An unsigned tx from an ordinary command (fees and gas as the CLI sets them), its
	// message replaced.
	addr := net.Addr(t, from)
	gen := net.MustCLI(t, "tx", "bank", "send", from, addr, "1"+denom, "--generate-only",
		"--chain-id", net.ChainID, "--keyring-backend", "test")
	var tx map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(gen)), &tx), "generate-only: %s", gen)
	tx["body"].(map[string]any)["messages"] = []any{msg}
	bz, err := json.Marshal(tx)
	require.NoError(t, err)
	dir := t.TempDir()
	unsigned, signed := filepath.Join(dir, "unsigned.json"), filepath.Join(dir, "signed.json")
	require.NoError(t, os.WriteFile(unsigned, bz, 0o644))
	net.MustCLI(t, "tx", "sign", unsigned, "--from", from, "--chain-id", net.ChainID,
		"--keyring-backend", "test", "--output-document", signed)
	res, r := net.BroadcastTx("broadcast", signed)
	require.NoError(t, r.Err, "broadcast: %s %s", r.Stdout, r.Stderr)
	if res.Code != 0 {
		return res // refused by CheckTx: never in a block
	}
	return net.WaitTx(t, res.TxHash, 30*time.Second)
}
