package chaos

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cosmossdk.io/log"
	dbm "github.com/cosmos/cosmos-db"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/app"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

var httpc = &http.Client{Timeout: 5 * time.Second}

// rpc GETs path from node i's CometBFT RPC into out (the "result" member).
func (c *cluster) rpc(i int, path string, out any) error {
	resp, err := httpc.Get(c.net.RPCAddr(i) + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(env.Error) > 0 && string(env.Error) != "null" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Result, out)
}

// liveNodes are the nodes a check may ask at any time: the full node first (never perturbed),
// then the authorities.
var liveNodes = []int{fullNode, 0, 3, 1, 2}

// txHeight looks the tx up on the first node that answers.
func (c *cluster) txHeight(hash string) (sentTx, bool) {
	for _, i := range liveNodes {
		var r struct {
			Height   string `json:"height"`
			TxResult struct {
				Code uint32 `json:"code"`
			} `json:"tx_result"`
		}
		if err := c.rpc(i, "/tx?hash=0x"+hash, &r); err == nil && r.Height != "" {
			return sentTx{hash: hash, height: r.Height, code: r.TxResult.Code}, true
		}
	}
	return sentTx{}, false
}

func (c *cluster) waitTx(hash string, timeout time.Duration) (sentTx, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if tx, ok := c.txHeight(hash); ok {
			return tx, true
		}
		time.Sleep(300 * time.Millisecond)
	}
	return sentTx{}, false
}

// allNodes are every chain node of the cluster.
var allNodes = []int{0, 1, 2, 3, fullNode}

// checkTxsEverywhere returns the committed txs that some node does not have at the same
// height with the same result code.
func (c *cluster) checkTxsEverywhere(txs []sentTx) []string {
	var lost []string
	for _, tx := range txs {
		for _, i := range allNodes {
			var r struct {
				Height   string `json:"height"`
				TxResult struct {
					Code uint32 `json:"code"`
				} `json:"tx_result"`
			}
			if err := c.rpc(i, "/tx?hash=0x"+tx.hash, &r); err != nil || r.Height != tx.height || r.TxResult.Code != tx.code {
				lost = append(lost, fmt.Sprintf("%s on node %d: height %q code %d, want %s/%d (%v)", tx.hash, i, r.Height, r.TxResult.Code, tx.height, tx.code, err))
			}
		}
	}
	return lost
}

// appHashMismatches compares the app hash every node committed after each block in [from, to]
// (each node asked by its own goroutine).
func (c *cluster) appHashMismatches(from, to int64) []string {
	got := make([]map[int64]string, len(allNodes))
	errs := make([]map[int64]error, len(allNodes))
	var wg sync.WaitGroup
	for k, i := range allNodes {
		got[k], errs[k] = map[int64]string{}, map[int64]error{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := from; h <= to; h++ {
				got[k][h], errs[k][h] = c.net.AppHashAt(i, h)
			}
		}()
	}
	wg.Wait()
	full := len(allNodes) - 1 // allNodes ends with the full node
	var bad []string
	for h := from; h <= to; h++ {
		want, err := got[full][h], errs[full][h]
		if err != nil {
			bad = append(bad, fmt.Sprintf("height %d: full node: %v", h, err))
			continue
		}
		for k, i := range allNodes[:full] {
			if errs[k][h] != nil || got[k][h] != want {
				bad = append(bad, fmt.Sprintf("height %d: node %d app hash %s, full node %s (%v)", h, i, got[k][h], want, errs[k][h]))
			}
		}
	}
	return bad
}

// minHeight is the lowest latest height among the nodes.
func (c *cluster) minHeight() int64 {
	min := int64(-1)
	for _, i := range allNodes {
		s, err := c.net.Status(i)
		if err != nil {
			c.t.Fatalf("node %d status: %v", i, err)
		}
		if min < 0 || s.Height < min {
			min = s.Height
		}
	}
	return min
}

// messageCounts decodes every tx of blocks [from, to] with the app's tx decoder and counts the
// validation messages (reports, predictions, reveals) per sender, claim, round and market:
// a sidecar that sent one twice (a crash between send and persist, a resend without asking
// the chain) shows a count above one. It also counts the txs the decoder could not read.
func (c *cluster) messageCounts(a *app.App, from, to int64) (counts map[string]int, undecodable int) {
	counts = map[string]int{}
	dec := a.TxConfig().TxDecoder()
	for h := from; h <= to; h++ {
		var b struct {
			Block struct {
				Data struct {
					Txs []string `json:"txs"`
				} `json:"data"`
			} `json:"block"`
		}
		if err := c.rpc(fullNode, fmt.Sprintf("/block?height=%d", h), &b); err != nil {
			c.t.Fatalf("block %d: %v", h, err)
		}
		for _, s := range b.Block.Data.Txs {
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				c.t.Fatalf("block %d: tx base64: %v", h, err)
			}
			tx, err := dec(raw)
			if err != nil {
				undecodable++
				continue
			}
			for _, m := range tx.GetMsgs() {
				if k, ok := validationKey(m); ok {
					counts[k]++
				}
			}
		}
	}
	return counts, undecodable
}

// validationKey names a message a builder's sidecar sends at most once: every buildchain
// claims or market message that names a claim, round or market, except a claim submission.
func validationKey(m sdk.Msg) (string, bool) {
	url := sdk.MsgTypeURL(m)
	if !strings.HasPrefix(url, "/buildchain.claims.") && !strings.HasPrefix(url, "/buildchain.market.") {
		return "", false
	}
	if strings.Contains(url, "SubmitClaim") || strings.Contains(url, "UpdateParams") {
		return "", false
	}
	k := url
	if v, ok := m.(interface{ GetValidator() string }); ok {
		k += " validator=" + v.GetValidator()
	}
	if v, ok := m.(interface{ GetSender() string }); ok {
		k += " sender=" + v.GetSender()
	}
	if v, ok := m.(interface{ GetPublisher() string }); ok {
		k += " publisher=" + v.GetPublisher()
	}
	if v, ok := m.(interface{ GetPredictor() string }); ok {
		k += " predictor=" + v.GetPredictor()
	}
	if v, ok := m.(interface{ GetSubmitter() string }); ok {
		k += " submitter=" + v.GetSubmitter()
	}
	if v, ok := m.(interface{ GetClaimId() uint64 }); ok {
		k += fmt.Sprintf(" claim=%d", v.GetClaimId())
	}
	if v, ok := m.(interface{ GetRound() uint32 }); ok {
		k += fmt.Sprintf(" round=%d", v.GetRound())
	}
	if v, ok := m.(interface{ GetMarketId() uint64 }); ok {
		k += fmt.Sprintf(" market=%d", v.GetMarketId())
	}
	return k, true
}

// claimInfo is what the checks read of a claim (REST JSON, so new fields do not matter).
type claimInfo struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Assignments []struct {
		Status         string `json:"status"`
		Validator      string `json:"validator"`
		DeadlineHeight string `json:"deadline_height"`
	} `json:"assignments"`
}

func (c *cluster) claim(id uint64) (claimInfo, error) {
	var out struct {
		Claim claimInfo `json:"claim"`
	}
	err := c.net.RESTErr(fullNode, fmt.Sprintf("/buildchain/claims/v1/claims/%d", id), &out)
	return out.Claim, err
}

// finished reports whether a claim status is a verdict.
func finished(status string) bool {
	switch status {
	case "CLAIM_STATUS_VALID", "CLAIM_STATUS_REJECTED", "CLAIM_STATUS_EXPIRED":
		return true
	}
	return false
}

// invariantsOf opens a stopped node's application state and runs every invariant the app's
// modules register, in name order.
func invariantsOf(home string) (checked []string, broken []string, err error) {
	db, err := dbm.NewDB("application", dbm.GoLevelDBBackend, filepath.Join(home, "data"))
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	a := app.New(log.NewNopLogger(), db, nil, true, simtestutil.NewAppOptionsWithFlagHome(home))
	reg := invariantRegistry{}
	for _, name := range a.ModuleManager.ModuleNames() {
		if m, ok := a.ModuleManager.Modules[name].(interface {
			RegisterInvariants(sdk.InvariantRegistry)
		}); ok {
			m.RegisterInvariants(reg)
		}
	}
	ctx := a.NewContext(true).WithBlockHeight(a.LastBlockHeight())
	names := make([]string, 0, len(reg))
	for n := range reg {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		checked = append(checked, n)
		if msg, bad := reg[n](ctx); bad {
			broken = append(broken, n+": "+msg)
		}
	}
	return checked, broken, nil
}

type invariantRegistry map[string]sdk.Invariant

func (r invariantRegistry) RegisterRoute(module, route string, inv sdk.Invariant) {
	r[module+"/"+route] = inv
}

// Two builders' predictions in one market are two messages, not one sent twice: the key names
// the signer of every validation message.
func TestValidationKeyNamesSigner(t *testing.T) {
	a := validationKeyOf(t, &markettypes.MsgCommitPrediction{Predictor: "bc1a", MarketId: 1})
	b := validationKeyOf(t, &markettypes.MsgCommitPrediction{Predictor: "bc1b", MarketId: 1})
	if a == b {
		t.Fatalf("two predictors' commits share the key %q", a)
	}
	r1 := validationKeyOf(t, &claimstypes.MsgReportBuild{Validator: "bc1a", ClaimId: 3, Round: 1})
	r2 := validationKeyOf(t, &claimstypes.MsgReportBuild{Validator: "bc1a", ClaimId: 3, Round: 1})
	if r1 != r2 {
		t.Fatalf("the same report has two keys %q %q", r1, r2)
	}
}

func validationKeyOf(t *testing.T, m sdk.Msg) string {
	t.Helper()
	k, ok := validationKey(m)
	if !ok {
		t.Fatalf("%T is not a validation message", m)
	}
	return k
}
