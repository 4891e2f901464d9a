package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// The four buildchain modules serve their params over REST and the CLI, the OpenAPI document
// of their routes is served, and a gov proposal (the only authority) changes a param.
func TestModuleParamsAndGovUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a network")
	}
	net := localnet.Start(t, localnet.Options{Nodes: 1})

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

	var market struct {
		Params map[string]any `json:"params"`
	}
	net.REST(t, 0, "/buildchain/market/v1/params", &market)
	require.Equal(t, "20", market.Params["commit_blocks"])
	changed := map[string]any{}
	for k, v := range market.Params {
		changed[k] = v
	}
	changed["commit_blocks"] = "33"

	// Through governance: val0 holds all the voting power of this one-authority network.
	gov := sdk.MustBech32ifyAddressBytes("bc", authtypes.NewModuleAddress("gov"))
	proposal := map[string]any{
		"messages": []any{map[string]any{
			"@type":     "/buildchain.market.v1.MsgUpdateParams",
			"authority": gov,
			"params":    changed,
		}},
		"deposit":  "10000000ubct",
		"title":    "market: longer commit phase",
		"summary":  "e2e test of MsgUpdateParams through x/gov",
		"metadata": "",
	}
	bz, err := json.Marshal(proposal)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "proposal.json")
	require.NoError(t, os.WriteFile(file, bz, 0o644))

	res := net.Tx(t, "gov", "submit-proposal", file, "--from", "val0", "--gas", "400000")
	require.Zero(t, res.Code, "submit-proposal: %s", res.RawLog)
	var props struct {
		Proposals []struct {
			ID string `json:"id"`
		} `json:"proposals"`
	}
	require.NoError(t, json.Unmarshal([]byte(net.MustCLI(t, "query", "gov", "proposals", "-o", "json")), &props))
	require.NotEmpty(t, props.Proposals)
	id := props.Proposals[len(props.Proposals)-1].ID

	res = net.Tx(t, "gov", "vote", id, "yes", "--from", "val0")
	require.Zero(t, res.Code, "vote: %s", res.RawLog)

	// The localnet voting period is 20 s.
	eventually(t, 60*time.Second, "the proposal to pass and change market params", func() bool {
		var p struct {
			Params map[string]any `json:"params"`
		}
		if err := net.RESTErr(0, "/buildchain/market/v1/params", &p); err != nil {
			return false
		}
		return p.Params["commit_blocks"] == "33"
	})
	var status struct {
		Proposal struct {
			Status string `json:"status"`
		} `json:"proposal"`
	}
	net.REST(t, 0, "/cosmos/gov/v1/proposals/"+id, &status)
	require.True(t, strings.HasSuffix(status.Proposal.Status, "PASSED"), "status %s", status.Proposal.Status)
}
