package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/buildchain/buildchain/testutil/crashloop"
	"github.com/buildchain/buildchain/testutil/localnet"
)

// TestChainCrashLoop kills (SIGKILL) the only authority of a chain at random points of its
// block cycle (execution, commit, the wait for the next block) while bank sends arrive,
// CRASHLOOP_KILLS times (default 2; `make crashloop` runs 50). After each restart the node
// produces blocks again, every tx it had committed is still there at the same height with the
// same result, and the app hash of every height it had committed is unchanged (issue 13: a chain
// commit interrupted by a crash loses nothing).
func TestChainCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a chain and kills it")
	}
	kills := crashloop.Kills(t, 2)
	net := localnet.Start(t, localnet.Options{Nodes: 1})
	bob := net.Addr(t, "bob")
	rng := crashloop.Rand()

	committed := map[string]localnet.TxResponse{} // by hash: seen in a block
	appHash := map[int64]string{}                 // by height: seen committed
	var pending []string                          // accepted by CheckTx, not yet seen in a block
	sent := 0
	record := func() {
		// Every pending tx that is in a block now; the others may have been lost with the
		// mempool (a crash before their block: never committed, so nothing was lost).
		var still []string
		for _, h := range pending {
			var out struct {
				Result struct {
					Height   string `json:"height"`
					TxResult struct {
						Code uint32 `json:"code"`
					} `json:"tx_result"`
				} `json:"result"`
			}
			if err := localnet.GetJSON(net.RPCAddr(0)+"/tx?hash=0x"+h, &out); err == nil && out.Result.Height != "" {
				committed[h] = localnet.TxResponse{TxHash: h, Height: out.Result.Height, Code: out.Result.TxResult.Code}
			} else {
				still = append(still, h)
			}
		}
		pending = still
		top := net.Height(t, 0)
		for h := top - 10; h < top; h++ {
			if h < 1 {
				continue
			}
			hash, err := net.AppHashAt(0, h)
			if err != nil {
				t.Fatalf("app hash at %d: %v", h, err)
			}
			appHash[h] = hash
		}
	}
	check := func(k int) {
		for h, want := range committed {
			got := net.WaitTx(t, h, 30*time.Second)
			if got.Height != want.Height || got.Code != want.Code {
				t.Fatalf("kill %d: tx %s now at height %s code %d, committed at %s code %d", k, h, got.Height, got.Code, want.Height, want.Code)
			}
		}
		for h, want := range appHash {
			got, err := net.AppHashAt(0, h)
			if err != nil || got != want {
				t.Fatalf("kill %d: app hash at height %d is %s (%v), was %s", k, h, got, err, want)
			}
		}
	}

	for k := 0; k < kills; k++ {
		// A few sends in the mempool and in blocks when the kill lands.
		for i := 0; i < 3; i++ {
			res, r := net.BroadcastTx("bank", "send", "alice", bob, fmt.Sprintf("%dubct", 1+sent))
			sent++
			if r.Err == nil && res.Code == 0 {
				pending = append(pending, res.TxHash)
			}
		}
		record()
		// A random point of the block cycle (blocks every 500 ms plus execution): the random
		// wait is the perturbation itself.
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		h := net.Height(t, 0)
		net.Kill(t, 0)
		net.StartNode(t, 0)
		net.WaitHeight(t, 0, h+2, 2*time.Minute)
		check(k)
	}
	record()
	check(kills)
	if len(committed) == 0 {
		t.Fatal("no tx was committed during the loop")
	}
	t.Logf("%d kills: %d txs committed of %d sent, app hashes of %d heights unchanged", kills, len(committed), sent, len(appHash))
}
