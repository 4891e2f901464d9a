package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// The four buildchain modules serve their params over REST and the CLI, the OpenAPI document
// of their routes is served, genesis params chosen by a test apply, and a gov proposal (the
// only authority) changes a param.
func TestModuleParamsAndGovUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a network")
	}
	net := localnet.Start(t, localnet.Options{
		Nodes:     1,
		GenesisJQ: `.app_state.bct.params.payment_period_blocks = "50"`,
	})

	// buildchaind status talks to the node's CometBFT RPC.
	var st struct {
		NodeInfo struct {
			Network string `json:"network"`
		} `json:"node_info"`
		SyncInfo struct {
			LatestBlockHeight string `json:"latest_block_height"`
		} `json:"sync_info"`
	}
	require.NoError(t, json.Unmarshal([]byte(net.MustCLI(t, "status")), &st))
	require.Equal(t, "buildchain-1", st.NodeInfo.Network)
	require.NotEqual(t, "0", st.SyncInfo.LatestBlockHeight)

	for _, m := range []string{"validators", "claims", "market", "bct"} {
		var rest struct {
			Params map[string]any `json:"params"`
		}
		net.REST(t, 0, "/buildchain/"+m+"/v1/params", &rest)
		require.NotEmpty(t, rest.Params, "REST params of %s", m)

		var cli struct {
			Params map[string]any `json:"params"`
		}
		require.NoError(t, json.Unmarshal([]byte(net.MustCLI(t, "query", m, "params", "-o", "json")), &cli))
		require.NotEmpty(t, cli.Params, "CLI params of %s", m)
	}

	var doc struct {
		Paths map[string]any `json:"paths"`
	}
	net.REST(t, 0, "/buildchain/openapi.json", &doc)
	require.Contains(t, doc.Paths, "/buildchain/claims/v1/params")

	// Genesis params set by the test (Options.GenesisJQ) are in force.
	var bct struct {
		Params map[string]any `json:"params"`
	}
	net.REST(t, 0, "/buildchain/bct/v1/params", &bct)
	require.Equal(t, "50", bct.Params["payment_period_blocks"])

	// Through governance, the only authority: val0 holds all the voting power here.
	var market struct {
		Params map[string]any `json:"params"`
	}
	net.REST(t, 0, "/buildchain/market/v1/params", &market)
	require.Equal(t, "20", market.Params["commit_blocks"])
	id := net.UpdateParamsByGov(t, "market", map[string]any{"commit_blocks": "33"})
	net.REST(t, 0, "/buildchain/market/v1/params", &market)
	require.Equal(t, "33", market.Params["commit_blocks"])
	var status struct {
		Proposal struct {
			Status   string `json:"status"`
			Messages []struct {
				Type string `json:"@type"`
			} `json:"messages"`
		} `json:"proposal"`
	}
	net.REST(t, 0, "/cosmos/gov/v1/proposals/"+id, &status)
	require.True(t, strings.HasSuffix(status.Proposal.Status, "PASSED"), "status %s", status.Proposal.Status)
	require.Equal(t, "/buildchain.market.v1.MsgUpdateParams", status.Proposal.Messages[0].Type)
}
