package localnet

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"
)

// TxOutcome is the fate of one tx of TxsAtOnce: the CLI's result and, if the CLI sent the tx,
// its response: CheckTx's if that refused it (never in a block), else the block's.
type TxOutcome struct {
	Res TxResponse
	CLI CLIResult
}

// TxsAtOnce sends txs (each the args of BroadcastTx, with --from KEY) without waiting for a
// block between them, then waits until every accepted one is in a block. Txs of one signer go
// out in the order given with explicit --sequence numbers (the CLI would otherwise read the
// committed sequence for each and all but the first would be refused); signers go in
// parallel. A tx the CLI refused or CheckTx rejected takes no sequence number. So N txs cost
// N CLI runs and a block or two instead of N blocks: checks that must all happen before a
// deadline (a reveal window, a voting period) stay well inside it on a loaded machine.
func (n *Net) TxsAtOnce(t testing.TB, txs ...[]string) []TxOutcome {
	t.Helper()
	out := make([]TxOutcome, len(txs))
	bySigner := map[string][]int{}
	var signers []string
	for i, args := range txs {
		from := flagValue(args, "--from")
		if from == "" {
			t.Fatalf("TxsAtOnce: tx %v has no --from", args)
		}
		if _, ok := bySigner[from]; !ok {
			signers = append(signers, from)
		}
		bySigner[from] = append(bySigner[from], i)
	}
	seqs := map[string]uint64{}
	for _, s := range signers {
		seq, err := n.accountSequence(n.Addr(t, s))
		if err != nil {
			t.Fatal(err)
		}
		seqs[s] = seq
	}
	var wg sync.WaitGroup
	for _, s := range signers {
		wg.Add(1)
		go func(s string) {
			defer wg.Done()
			seq := seqs[s]
			for _, i := range bySigner[s] {
				args := append(append([]string(nil), txs[i]...), "--sequence", strconv.FormatUint(seq, 10))
				res, r := n.BroadcastTx(args...)
				out[i] = TxOutcome{Res: res, CLI: r}
				if r.Err == nil && res.Code == 0 {
					seq++
				}
			}
		}(s)
	}
	wg.Wait()
	for i := range out {
		if out[i].CLI.Err == nil && out[i].Res.Code == 0 {
			out[i].Res = n.WaitTx(t, out[i].Res.TxHash, 60*time.Second)
		}
	}
	// A tx refused for its sequence (in CheckTx or in its block: it did nothing) is sent
	// again on its own, with the sequence the CLI reads once the others are committed. Seen
	// once in TestClaimsGameOnLocalnet at load 20 ("expected 4, got 3"), cause not pinned down.
	for i := range out {
		if out[i].CLI.Err == nil && out[i].Res.Code == sdkerrors.ErrWrongSequence.ABCICode() && out[i].Res.Codespace == sdkerrors.RootCodespace {
			t.Logf("TxsAtOnce: tx %v refused for its sequence (%s): sending it again", txs[i], out[i].Res.RawLog)
			res, r := n.BroadcastTx(txs[i]...)
			out[i] = TxOutcome{Res: res, CLI: r}
			if r.Err == nil && res.Code == 0 {
				out[i].Res = n.WaitTx(t, res.TxHash, 60*time.Second)
			}
		}
	}
	return out
}

// accountSequence returns the committed sequence of an account (node 0's REST).
func (n *Net) accountSequence(addr string) (uint64, error) {
	var acc struct {
		Account struct {
			Sequence string `json:"sequence"`
		} `json:"account"`
	}
	if err := n.RESTErr(0, "/cosmos/auth/v1beta1/accounts/"+addr, &acc); err != nil {
		return 0, fmt.Errorf("account %s: %w", addr, err)
	}
	seq, err := strconv.ParseUint(acc.Account.Sequence, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("account %s: sequence %q: %w", addr, acc.Account.Sequence, err)
	}
	return seq, nil
}

// flagValue returns the value of --flag in args ("--flag v" or "--flag=v"), or "".
func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}
