package localnet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
// through a real gov proposal (PassProposal): it reads the current params over REST, applies
// changes (JSON field names as in the REST output, values as JSON: strings for 64-bit integers
// and decimals) and returns the id of the passed proposal.
func (n *Net) UpdateParamsByGov(t testing.TB, module string, changes map[string]any) string {
	t.Helper()
	return n.PassProposal(t, "update "+module+" params", n.ParamsUpdateMsg(t, module, changes))
}

// ParamsUpdateMsg returns the MsgUpdateParams (as proposal JSON) that sets changes on the
// current params of a buildchain module; several of them can go in one PassProposal.
func (n *Net) ParamsUpdateMsg(t testing.TB, module string, changes map[string]any) map[string]any {
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
	return map[string]any{
		"@type":     "/buildchain." + module + ".v1.MsgUpdateParams",
		"authority": GovAddress(),
		"params":    cur.Params,
	}
}

// ExpeditedDeposit is the deposit of PassProposal's proposals: the localnet genesis'
// expedited_min_deposit (scripts/localnet.sh).
const ExpeditedDeposit = "50000000ubct"

// PassProposal submits msgs (proposal JSON, e.g. from ParamsUpdateMsg) as one expedited gov
// proposal from val0, has every authority vote yes, and waits until it has passed; it returns
// the proposal id. The votes are broadcast at once and only then waited for: one after the
// other, each waiting for its block, they took several seconds apiece on a loaded machine and
// could run past the voting period (localnet genesis: 10 s expedited, 20 s regular), and the
// proposal was rejected. An expedited proposal that misses its period gets the regular one.
func (n *Net) PassProposal(t testing.TB, title string, msgs ...any) string {
	t.Helper()
	bz, err := json.Marshal(map[string]any{
		"messages":  msgs,
		"deposit":   ExpeditedDeposit,
		"title":     title,
		"summary":   "test proposal",
		"metadata":  "",
		"expedited": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "proposal.json")
	if err := os.WriteFile(file, bz, 0o644); err != nil {
		t.Fatal(err)
	}
	res := n.Tx(t, "gov", "submit-proposal", file, "--from", "val0", "--gas", fmt.Sprint(300000+300000*len(msgs)))
	if res.Code != 0 {
		t.Fatalf("submit-proposal: code %d: %s", res.Code, res.RawLog)
	}
	id, err := n.proposalIDOfTx(res.TxHash)
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	hashes := make([]string, n.Nodes)
	errs := make([]error, n.Nodes)
	for i := 0; i < n.Nodes; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, r := n.BroadcastTx("gov", "vote", id, "yes", "--from", fmt.Sprintf("val%d", i))
			switch {
			case r.Err != nil:
				errs[i] = fmt.Errorf("vote by val%d: %v\n%s%s", i, r.Err, r.Stdout, r.Stderr)
			case res.Code != 0:
				errs[i] = fmt.Errorf("vote by val%d: code %d: %s", i, res.Code, res.RawLog)
			default:
				hashes[i] = res.TxHash
			}
		}(i)
	}
	wg.Wait()
	for i := range hashes {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if res := n.WaitTx(t, hashes[i], 30*time.Second); res.Code != 0 {
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
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("proposal %s did not pass in time", id)
	return ""
}

// proposalIDOfTx returns the id of the proposal a submit-proposal tx made, from the tx's
// submit_proposal event on node 0's CometBFT RPC.
func (n *Net) proposalIDOfTx(hash string) (string, error) {
	var out struct {
		Result struct {
			TxResult struct {
				Events []struct {
					Type       string `json:"type"`
					Attributes []struct {
						Key   string `json:"key"`
						Value string `json:"value"`
					} `json:"attributes"`
				} `json:"events"`
			} `json:"tx_result"`
		} `json:"result"`
	}
	if err := n.rpcGet(0, "/tx?hash=0x"+hash, &out); err != nil {
		return "", err
	}
	for _, e := range out.Result.TxResult.Events {
		if e.Type != "submit_proposal" {
			continue
		}
		for _, a := range e.Attributes {
			if a.Key == "proposal_id" {
				return a.Value, nil
			}
		}
	}
	return "", fmt.Errorf("tx %s has no submit_proposal event with a proposal_id", hash)
}
