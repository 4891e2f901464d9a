package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/sidecar"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

func needRootFUSE(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: sandbox namespaces, cgroups and FUSE mounts")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("needs /dev/fuse for the store's FUSE view")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs Debian busybox-static (/bin/busybox) for the bootstrap tools")
	}
}

// TestSidecarNetwork is issue 7's end-to-end test on one localnet (4
// authorities) with 3 build validators, each with its own store (real FUSE
// view), sandbox and libp2p node on loopback, and its sidecar:
//   - publish hello: the assigned builders fetch the inputs from the
//     publisher over bitswap, rebuild, report -> VALID;
//   - a fresh node gets the verified output by substitution (hash-checked,
//     from a builder, not the publisher), without building, same CID;
//   - every sidecar restarted: nothing is reported twice;
//   - a tampered output: the rebuild disagrees -> DISPUTED (market opened);
//   - a builder killed mid-build: timeout, reassignment, still VALID; its
//     restarted sidecar does not report the lost round.
func TestSidecarNetwork(t *testing.T) {
	needRootFUSE(t)
	// A 20-block report deadline (default 50) keeps the killed-builder step short.
	// Market windows of 40 blocks (default 20) leave a killed predictor
	// time to restart under load.
	net := localnet.Start(t, localnet.Options{Nodes: 4,
		GenesisJQ: `.app_state.claims.params.report_timeout_blocks = "20" | .app_state.market.params.commit_blocks = "40" | .app_state.market.params.reveal_blocks = "40"`})
	env := sidecartest.NewEnv(t, net)
	ctx := context.Background()

	pub := env.NewPeer("publisher", "val0", 0)
	names := []string{"alice", "bob", "carol"}
	var builders []*sidecartest.Peer
	running := map[string]*sidecartest.Running{}
	for i, name := range names {
		p := env.NewPeer(name, name, i+1, pub)
		env.Register(p)
		builders = append(builders, p)
	}
	for _, p := range builders {
		running[p.Name] = env.StartSidecar(p)
	}
	byAddr := map[string]*sidecartest.Peer{}
	for _, p := range builders {
		byAddr[p.Claims.Validator()] = p
	}
	var allClaims []uint64

	// 1. publish -> VALID.
	drv := pub.Hello(t, "")
	id, resolved, out, _, _ := pub.Publish(t, drv, cid.Undef)
	allClaims = append(allClaims, id)
	t.Logf("claim %d: %s -> %s", id, resolved, out)
	c := sidecartest.WaitClaim(t, pub.Claims, id, 3*time.Minute, "VALID", func(c claimstypes.Claim) bool {
		return c.Status == claimstypes.CLAIM_STATUS_VALID
	})
	t.Logf("VALID after %d rounds: %s", c.Round, sidecartest.FmtAssignments(c))
	require.True(t, c.IsBlind(), "the claim was blind")
	logBlindLatency(t, c)
	for _, a := range c.Assignments {
		require.Equal(t, out.String(), a.OutputCid, "every rebuild gave the publisher's output")
		require.NotZero(t, a.BuildTimeMs)
		b := byAddr[a.Validator]
		require.NotNil(t, b, "assigned to one of our builders")
		// The builder got the derivation and its inputs from the publisher
		// over bitswap: they were only in the publisher's store.
		has, err := b.Store.HasBlock(resolved)
		require.NoError(t, err)
		require.True(t, has, "%s fetched the derivation", b.Name)
	}
	v, found, err := pub.Claims.VerifiedOutput(ctx, resolved)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, out.String(), v.OutputCid)

	// 2. A fresh node substitutes: it asks the chain for the verified output
	// and fetches it from a builder (it knows no other peer), hash-checked,
	// and never runs the builder.
	first := byAddr[c.Assignments[0].Validator]
	fresh := env.NewPeer("fresh", "", 1, first)
	_, releaseDrv, err := fresh.Runtime.Fetch(ctx, resolved, nil)
	require.NoError(t, err, "derivation from the builder")
	defer releaseDrv()
	d, err := fresh.Builder.LoadDerivation(resolved)
	require.NoError(t, err)
	var subLog strings.Builder
	sub := &runtime.Substitution{Chain: runtime.NewChainQuerier(env.Claims(1, "")), Log: &subLog,
		Fetch: fresh.Runtime.Fetch}
	defer sub.Release()
	got, ok, err := sub.Substitute(ctx, resolved, d)
	require.NoError(t, err)
	require.True(t, ok, "substituted: %s", subLog.String())
	require.Equal(t, out, got, "same CID as the verified build")
	var hello strings.Builder
	require.NoError(t, fresh.Store.Cat(ctx, got, "bin/hello", &hello))
	require.Contains(t, hello.String(), "Hello, world!")
	_, err = os.Stat(filepath.Join(fresh.Dir, "builds", "logs", resolved.String()+".log"))
	require.True(t, os.IsNotExist(err), "no build ran on the fresh node")
	t.Log(strings.TrimSpace(subLog.String()))

	// 2b. The user commands, in-process as under buildchaind: verify prints
	// the verdict and fetches the output from a builder; install puts it in
	// a profile; node status reads a builder's sidecar state.
	user := filepath.Join(t.TempDir(), "user")
	boot := first.P2P.Addrs()[0].String()
	stdout, stderr, err := env.CLI(1, "", user, "verify", resolved.String(), "--store", filepath.Join(user, "ipfs"),
		"--peer", boot, "--mdns=false")
	require.NoError(t, err, "verify: %s %s", stdout, stderr)
	require.Contains(t, stdout, "VALID: "+resolved.String()+" builds to "+out.String())
	require.Contains(t, stdout, "fetched "+out.String())
	stdout, stderr, err = env.CLI(1, "", user, "install", resolved.String(), "--store", filepath.Join(user, "ipfs"),
		"--peer", boot, "--mdns=false", "--user", "tester")
	require.NoError(t, err, "install: %s %s", stdout, stderr)
	require.Contains(t, stdout, "generation 1")
	// The profile is a symlink forest into the store path of the output.
	link, err := os.Readlink(filepath.Join(user, "profiles", "per-user", "tester", "generations", "1", "bin", "hello"))
	require.NoError(t, err)
	require.Contains(t, link, out.String())
	_, _, err = env.CLI(1, "", user, "verify", pub.Hello(t, "never-claimed").String(), "--store", filepath.Join(user, "ipfs"),
		"--peer", pub.P2P.Addrs()[0].String(), "--mdns=false", "--no-fetch")
	require.ErrorContains(t, err, "no verified output", "an unclaimed derivation is not verified")
	stdout, _, err = env.CLI(first.Node, first.Key, first.Dir, "node", "status")
	require.NoError(t, err)
	require.Contains(t, stdout, "reports sent:  1")

	// 2c. The real publish command: builds, announces, submits and waits
	// for the verdict, serving the blocks meanwhile.
	cliDrv := pub.Hello(t, "published-by-cli")
	stdout, stderr, err = env.CLI(0, "val0", net.Home(0), "publish", cliDrv.String(), "--from", "val0",
		"--store", filepath.Join(pub.Dir, "ipfs"), "--peer", boot, "--mdns=false", "--wait-timeout", "3m")
	require.NoError(t, err, "publish: %s %s", stdout, stderr)
	require.Contains(t, stdout, "submitted: derivation "+cliDrv.String())
	require.Contains(t, stdout, "CLAIM_STATUS_VALID")
	t.Logf("publish output:\n%s", stdout)
	if v, found, err := pub.Claims.VerifiedOutput(ctx, cliDrv); assert.NoError(t, err) && assert.True(t, found) {
		allClaims = append(allClaims, v.ClaimId)
	}

	// 3. Restart every sidecar: each resumes from its stored height and
	// reports nothing again.
	sentBefore := map[string]int{}
	for _, p := range builders {
		r := running[p.Name]
		last := r.Sidecar.State().LastHeight()
		r.Stop()
		st := sidecar.StatusOf(r.Sidecar.State(), p.Claims.Validator())
		sentBefore[p.Name] = st.ReportsSent
		running[p.Name] = env.StartSidecar(p)
		require.GreaterOrEqual(t, running[p.Name].Sidecar.State().LastHeight(), last)
	}

	// 3b. The authority a sidecar follows goes down and comes back: the
	// sidecar retries, reconnects its websocket and catches up in order.
	var follower *sidecartest.Peer
	for _, p := range builders {
		if p.Node != 0 {
			follower = p
			break
		}
	}
	before := running[follower.Name].Sidecar.State().LastHeight()
	net.Kill(t, follower.Node)
	net.WaitHeight(t, 0, before+4, time.Minute)
	net.StartNode(t, follower.Node)
	target := net.Height(t, 0) + 2
	require.Eventually(t, func() bool { return running[follower.Name].Sidecar.State().LastHeight() >= target },
		2*time.Minute, 200*time.Millisecond, "%s's sidecar caught up after its authority restarted", follower.Name)
	require.Positive(t, counterValue(running[follower.Name].Metrics.FollowErrors), "the outage was seen and retried")
	t.Logf("%s's sidecar followed node %d through a restart: height %d -> %d (%v follow errors, %v websocket reconnects)",
		follower.Name, follower.Node, before, running[follower.Name].Sidecar.State().LastHeight(),
		counterValue(running[follower.Name].Metrics.FollowErrors), counterValue(running[follower.Name].Metrics.WSReconnects))

	// 3c. A predictor as a real process (`buildchaind node run` of dave, an
	// account that builds nothing but predicts in every market), armed to be
	// killed (-9) right after it sends its commit (step 4's market).
	dave := newPredictor(t, net, "dave", pub)
	dave.run(chain.SentFailpoint(&markettypes.MsgCommitPrediction{}))

	// 4. A tampered output: the publisher claims a different tree.
	tampered := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.MkdirAll(filepath.Join(tampered, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tampered, "bin", "hello"), []byte("#!/bin/sh\necho pwned\n"), 0o555))
	fake, err := pub.Store.AddPath(ctx, tampered, storefs.AddOptions{PreserveMode: true})
	require.NoError(t, err)
	drv2 := pub.Hello(t, "tampered")
	id2, resolved2, claimed2, _, _ := pub.Publish(t, drv2, fake)
	allClaims = append(allClaims, id2)
	require.Equal(t, fake, claimed2)
	sidecartest.WaitClaim(t, pub.Claims, id2, 3*time.Minute, "DISPUTED", func(c claimstypes.Claim) bool {
		return c.Status == claimstypes.CLAIM_STATUS_DISPUTED || c.Status == claimstypes.CLAIM_STATUS_REJECTED
	})
	// dave is killed while committing and while revealing, and restarted:
	// its prediction is revealed all the same.
	testPredictorCrashes(t, env, dave, id2)
	// The sidecars rebuild the disputed derivation and predict in its
	// market: the claim is judged MISBEHAVIOUR_CLAIM and rejected, and the
	// publisher loses the deposit.
	c2 := sidecartest.WaitClaim(t, pub.Claims, id2, 3*time.Minute, "REJECTED (MISBEHAVIOUR_CLAIM)", func(c claimstypes.Claim) bool {
		return c.Status == claimstypes.CLAIM_STATUS_REJECTED
	})
	t.Logf("tampered claim %d: %s: %s", id2, c2.Status, sidecartest.FmtAssignments(c2))
	require.False(t, c2.DepositLocked, "the deposit was seized")
	var predicted int
	for _, p := range builders {
		for _, pr := range running[p.Name].Sidecar.State().Predictions() {
			if pr.ClaimID == id2 && pr.Status == sidecar.PredRevealed {
				require.Equal(t, markettypes.OUTCOME_MISBEHAVIOUR_CLAIM, pr.Outcome, "%s predicted from its own rebuild", p.Name)
				predicted++
			}
		}
	}
	require.Positive(t, predicted)
	stakeBack(t, dave) // and dave lost no stake
	dave.stop()
	var dissent string
	for _, a := range c2.Assignments {
		if a.Status == claimstypes.ROUND_STATUS_DISAGREED || (a.OutputCid != "" && a.OutputCid != fake.String()) {
			dissent = a.OutputCid
		}
	}
	require.NotEmpty(t, dissent, "a builder reported a different output")
	require.NotEqual(t, fake.String(), dissent)
	_ = resolved2

	// 5. A builder killed mid-build: a slow derivation; stop the assigned
	// builder's sidecar while it builds.
	slow := pub.Slow(t, "killed", 6)
	id3, resolved3, out3, _, _ := pub.Publish(t, slow, cid.Undef)
	allClaims = append(allClaims, id3)
	var victim *sidecartest.Peer
	var victimRound uint32
	sidecartest.WaitClaim(t, pub.Claims, id3, 2*time.Minute, "an assignment being built", func(c claimstypes.Claim) bool {
		for _, a := range c.Assignments {
			if a.Status != claimstypes.ROUND_STATUS_ASSIGNED {
				continue
			}
			p := byAddr[a.Validator]
			if p == nil {
				continue
			}
			if j, ok := running[p.Name].Sidecar.State().Job(id3, a.Round); ok && j.Status == sidecar.JobBuilding {
				victim, victimRound = p, a.Round
				return true
			}
		}
		return false
	})
	running[victim.Name].Stop()
	t.Logf("killed %s's sidecar mid-build of claim %d round %d", victim.Name, id3, victimRound)
	c3 := sidecartest.WaitClaim(t, pub.Claims, id3, 4*time.Minute, "VALID after reassignment", func(c claimstypes.Claim) bool {
		return c.Status == claimstypes.CLAIM_STATUS_VALID
	})
	t.Logf("claim %d VALID: %s", id3, sidecartest.FmtAssignments(c3))
	var timedOut bool
	for _, a := range c3.Assignments {
		if a.Validator == victim.Claims.Validator() && a.Round == victimRound {
			require.Equal(t, claimstypes.ROUND_STATUS_TIMED_OUT, a.Status)
			timedOut = true
		}
		if a.OutputCid != "" {
			require.Equal(t, out3.String(), a.OutputCid)
		}
	}
	require.True(t, timedOut, "the killed builder's round timed out")
	_ = resolved3
	// The killed sidecar comes back: the round is gone, it does not report.
	running[victim.Name] = env.StartSidecar(victim)
	require.Eventually(t, func() bool {
		j, _ := running[victim.Name].Sidecar.State().Job(id3, victimRound)
		return j.Status == sidecar.JobSkipped
	}, time.Minute, 200*time.Millisecond, "the lost round is skipped after the restart")

	// Nothing was reported twice: per claim, each validator's reports match
	// its sidecar's sent jobs, and no sidecar ever had a report rejected.
	for _, id := range allClaims {
		cl, err := pub.Claims.Claim(ctx, id)
		require.NoError(t, err)
		perRound := map[string]int{}
		for _, a := range cl.Assignments {
			if a.OutputCid != "" {
				perRound[fmt.Sprintf("%d/%s", a.Round, a.Validator)]++
			}
		}
		for k, n := range perRound {
			require.Equal(t, 1, n, "claim %d: %s reported once", id, k)
		}
	}
	for _, p := range builders {
		r := running[p.Name]
		t.Logf("%s: %v reports sent, %v broadcast errors retried, %v duplicates avoided", p.Name,
			counterValue(r.Metrics.ReportsSent), counterValue(r.Metrics.ReportErrors), counterValue(r.Metrics.DuplicateAvoids))
		for _, j := range r.Sidecar.State().Jobs() {
			if j.Status != sidecar.JobSent {
				continue
			}
			cl, err := pub.Claims.Claim(ctx, j.ClaimID)
			require.NoError(t, err)
			require.Equal(t, chain.RoundReported, chain.RoundStateOf(cl, j.Round, p.Claims.Validator()),
				"%s: job %s sent once and on chain", p.Name, j.Key())
		}
	}
	t.Logf("reports sent before restarts: %v", sentBefore)
}

func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

// logBlindLatency prints what blind rounds (x/claims/README.md §Blind rounds) add to a claim's
// latency, in blocks, against issue 19's goal: submit → verdict within rounds × (build + 3
// blocks), where a round's build is its assignment → commit (fetch, build, commit tx). A
// figure, not an assertion: block counts under load are not for a test to judge.
func logBlindLatency(t *testing.T, c claimstypes.Claim) {
	var build, goal, lastCommit int64
	for _, a := range c.Assignments {
		if a.CommittedHeight == 0 {
			continue
		}
		b := a.CommittedHeight - a.AssignedHeight
		build += b
		goal += b + 3
		lastCommit = max(lastCommit, a.CommittedHeight)
	}
	total := c.FinishedHeight - c.SubmittedHeight
	verdict := "within"
	if total > goal {
		verdict = "OVER"
	}
	t.Logf("blind latency: claim %d, %d rounds: submit -> verdict %d blocks (%.1f per round); builds (assignment -> commit) %d blocks; "+
		"reveal phase %d blocks; added by the game: %.1f blocks per round; goal rounds x (build + 3) = %d blocks: %s the goal",
		c.Id, c.Round, total, float64(total)/float64(c.Round), build, c.FinishedHeight-lastCommit,
		float64(total-build)/float64(c.Round), goal, verdict)
}
