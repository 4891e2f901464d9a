package localnet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
)

// GovAddress is the x/gov module account, the authority of every module's MsgUpdateParams.
func GovAddress() string {
	return sdk.MustBech32ifyAddressBytes("bc", authtypes.NewModuleAddress("gov"))
}

// UpdateParamsByGov changes params of a buildchain module (validators, claims, market, bct)
// through a real gov proposal: it reads the current params over REST, applies changes (JSON
// field names as in the REST output, values as JSON: strings for 64-bit integers and decimals),
// submits a MsgUpdateParams proposal as val0, votes yes with every authority, and waits until
// the proposal has passed. It returns the proposal id. Needs the localnet genesis' short voting
// period (20 s).
func (n *Net) UpdateParamsByGov(t testing.TB, module string, changes map[string]any) string {
	t.Helper()
	var cur struct {
		Params map[string]any `json:"params"`
	}
	n.REST(t, 0, "/buildchain/"+module+"/v1/params", &cur)
	for k, v := range changes {
		if _, ok := cur.Params[k]; !ok {
			t.Fatalf("%s params have no field %q (have %v)", module, k, cur.Params)
		}
		cur.Params[k] = v
	}
	proposal := map[string]any{
		"messages": []any{map[string]any{
			"@type":     "/buildchain." + module + ".v1.MsgUpdateParams",
			"authority": GovAddress(),
			"params":    cur.Params,
		}},
		"deposit":  "10000000ubct",
		"title":    "update " + module + " params",
		"summary":  "test parameter change",
		"metadata": "",
	}
	bz, err := json.Marshal(proposal)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "proposal.json")
	if err := os.WriteFile(file, bz, 0o644); err != nil {
		t.Fatal(err)
	}
	res := n.Tx(t, "gov", "submit-proposal", file, "--from", "val0", "--gas", "400000")
	if res.Code != 0 {
		t.Fatalf("submit-proposal: code %d: %s", res.Code, res.RawLog)
	}
	var props struct {
		Proposals []struct {
			ID string `json:"id"`
		} `json:"proposals"`
	}
	if err := json.Unmarshal([]byte(n.MustCLI(t, "query", "gov", "proposals", "-o", "json")), &props); err != nil || len(props.Proposals) == 0 {
		t.Fatalf("listing proposals: %v", err)
	}
	id := props.Proposals[len(props.Proposals)-1].ID
	for i := 0; i < n.Nodes; i++ {
		res := n.Tx(t, "gov", "vote", id, "yes", "--from", fmt.Sprintf("val%d", i))
		if res.Code != 0 {
			t.Fatalf("vote by val%d: code %d: %s", i, res.Code, res.RawLog)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		var p struct {
			Proposal struct {
				Status       string `json:"status"`
				FailedReason string `json:"failed_reason"`
			} `json:"proposal"`
		}
		if err := n.RESTErr(0, "/cosmos/gov/v1/proposals/"+id, &p); err == nil {
			switch {
			case strings.HasSuffix(p.Proposal.Status, "PASSED"):
				return id
			case strings.HasSuffix(p.Proposal.Status, "REJECTED"), strings.HasSuffix(p.Proposal.Status, "FAILED"):
				t.Fatalf("proposal %s %s: %s", id, p.Proposal.Status, p.Proposal.FailedReason)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("proposal %s did not pass in time", id)
	return ""
}
