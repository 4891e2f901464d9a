package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/internal/failpoint"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/sidecar"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/testutil/localnet"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

// predictor is `buildchaind node run` as a real process, for an account
// that is no build validator: it builds no assignment but predicts in every
// market from its own rebuild. Tests kill it (-9) at a failpoint and
// restart it on the same home.
type predictor struct {
	t      *testing.T
	net    *localnet.Net
	key    string
	addr   string
	home   string
	peer   string // the publisher's multiaddr
	start  int64  // first height to follow
	cmd    *exec.Cmd
	exited chan *os.ProcessState
	// balance0 is the balance once funded, before any prediction.
	balance0 sdkmath.Int
}

// newPredictor makes a key, funds it from val1 and returns the predictor
// (not started).
func newPredictor(t *testing.T, net *localnet.Net, key string, pub *sidecartest.Peer) *predictor {
	net.MustCLI(t, "keys", "add", key, "--keyring-backend", "test")
	addr := net.Addr(t, key)
	res := net.Tx(t, "bank", "send", "val1", addr, "1000000000ubct", "--from", "val1")
	require.Zero(t, res.Code, res.RawLog)
	p := &predictor{t: t, net: net, key: key, addr: addr, home: filepath.Join(t.TempDir(), key),
		peer: pub.P2P.Addrs()[0].String(), start: net.Height(t, 0)}
	p.balance0 = balanceREST(t, net, 0, addr)
	t.Cleanup(func() {
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			if data, err := os.ReadFile(filepath.Join(p.home, "node-run.log")); err == nil {
				t.Logf("%s's node run log:\n%s", key, data)
			}
		}
	})
	return p
}

// run starts `node run` with the failpoint point armed ("" for none).
func (p *predictor) run(point string) {
	t := p.t
	require.NoError(t, os.MkdirAll(p.home, 0o755))
	logf, err := os.OpenFile(filepath.Join(p.home, "node-run.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	p.cmd = exec.Command(p.net.Binary, "node", "run", "--home", p.home, "--keyring-dir", p.net.Home(0),
		"--keyring-backend", "test", "--from", p.key, "--node", p.net.RPCAddr(0), "--chain-id", p.net.ChainID,
		"--store", filepath.Join(p.home, "ipfs"), "--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--peer", p.peer,
		"--mdns=false", "--metrics-addr", "", "--fuse=false", "--poll", "500ms",
		"--start-height", strconv.FormatInt(p.start, 10))
	p.cmd.Env = append(os.Environ(), failpoint.Env+"="+point)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	require.NoError(t, p.cmd.Start())
	p.exited = make(chan *os.ProcessState, 1)
	go func() {
		_ = p.cmd.Wait()
		logf.Close()
		p.exited <- p.cmd.ProcessState
	}()
}

// waitKilled waits until the process died of SIGKILL (its failpoint).
func (p *predictor) waitKilled(timeout time.Duration, what string) {
	t := p.t
	select {
	case st := <-p.exited:
		ws, ok := st.Sys().(syscall.WaitStatus)
		require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL,
			"%s: node run should have been killed at its failpoint, ended with %v", what, st)
	case <-time.After(timeout):
		t.Fatalf("%s: node run was not killed within %s", what, timeout)
	}
}

// stop ends a running `node run` (SIGTERM) and waits for it.
func (p *predictor) stop() {
	if p.cmd == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// prediction reads the predictor's state file for its prediction on claim.
func (p *predictor) prediction(claimID uint64) (sidecar.Prediction, bool) {
	st, err := sidecar.OpenState(filepath.Join(p.home, "sidecar", "state.json"))
	if err != nil {
		return sidecar.Prediction{}, false
	}
	for _, pr := range st.Predictions() {
		if pr.ClaimID == claimID {
			return pr, true
		}
	}
	return sidecar.Prediction{}, false
}

// onChain is the predictor's prediction in market id, read from the chain.
func (p *predictor) onChain(env *sidecartest.Env, marketID uint64) chain.PredictionState {
	c, err := chain.New(env.ClientCtx(0, p.key), nil)
	require.NoError(p.t, err)
	st, err := (&chain.Markets{C: c}).OnChain(context.Background(), marketID)
	require.NoError(p.t, err)
	return st
}

// testPredictorCrashes is the crash test of market predictions with a real
// process: `node run` is killed (-9) right after it sent its commit (sent,
// not yet in a block), restarted, killed again right after it sent its
// reveal, and restarted again. The commit that landed is recognised (not
// resent: x/market would refuse it, ErrAlreadyCommitted, and the stake would
// be lost), the reveal is the persisted one, and once the market is decided
// the stake is back. claimID is a claim that becomes DISPUTED; it returns
// once the prediction is revealed (stakeBack checks the stake after the
// verdict). p runs with the commit failpoint armed.
func testPredictorCrashes(t *testing.T, env *sidecartest.Env, p *predictor, claimID uint64) {
	// Killed after sending the commit.
	p.waitKilled(4*time.Minute, "commit")
	pr, ok := p.prediction(claimID)
	require.True(t, ok, "the prediction was persisted before the commit was sent")
	require.Equal(t, sidecar.PredCommitting, pr.Status, "killed while committing")
	t.Logf("%s killed after sending its commit in market %d (outcome %s)", p.key, pr.MarketID, pr.Outcome)

	// Restarted: it asks the chain (the commit landed) instead of resending,
	// and sends its reveal once the commit window is over: killed again.
	p.run(chain.SentFailpoint(&markettypes.MsgRevealPrediction{}))
	p.waitKilled(4*time.Minute, "reveal")
	require.True(t, p.onChain(env, pr.MarketID).Committed, "the commit is on chain")
	after, ok := p.prediction(claimID)
	require.True(t, ok)
	require.Equal(t, sidecar.PredCommitted, after.Status, "killed while revealing")
	require.Equal(t, pr.Salt, after.Salt, "the persisted salt is the one revealed")
	require.True(t, balanceREST(t, p.net, 0, p.addr).LT(p.balance0), "the stake is locked in the market")

	// Restarted once more: the reveal that landed is recognised.
	p.run("")
	require.Eventually(t, func() bool {
		pr, _ := p.prediction(claimID)
		return pr.Status == sidecar.PredRevealed
	}, 3*time.Minute, 250*time.Millisecond, "the prediction is revealed after the restarts")
	st := p.onChain(env, pr.MarketID)
	require.True(t, st.Committed && st.Revealed, "committed and revealed once on chain: %+v", st)
}

// stakeBack waits until the predictor holds at least its balance from
// before the commit again: the stake came back with the market's verdict
// (an honest prediction wins; fees are zero on localnet).
func stakeBack(t *testing.T, p *predictor) {
	var now sdkmath.Int
	require.Eventually(t, func() bool {
		var out struct {
			Balance struct{ Amount string } `json:"balance"`
		}
		if p.net.RESTErr(0, "/cosmos/bank/v1beta1/balances/"+p.addr+"/by_denom?denom="+denom, &out) != nil {
			return false
		}
		amt, ok := sdkmath.NewIntFromString(out.Balance.Amount)
		now = amt
		return ok && amt.GTE(p.balance0)
	}, 2*time.Minute, 500*time.Millisecond, "the stake is returned after the verdict")
	t.Logf("%s: balance %s before the commit, %s after the verdict", p.key, p.balance0, now)
}
