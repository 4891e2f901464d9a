package sidecar

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/internal/saltfile"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/chain/chaintest"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestStatePersistsAtomically(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sidecar", "state.json")
	st, err := OpenState(p)
	require.NoError(t, err)
	require.EqualValues(t, 0, st.LastHeight())
	added, err := st.AdvanceHeight(3, []Job{{ClaimID: 7, Round: 1, Derivation: "d"}})
	require.NoError(t, err)
	require.Len(t, added, 1)
	_, err = st.AdvanceHeight(3, nil)
	require.Error(t, err, "a height is handled once")
	// A job seen again (height re-read after a crash) is not reset.
	_, err = st.Update(7, 1, func(j *Job) { j.Status = JobCommitting; j.Output = "o" })
	require.NoError(t, err)
	added, err = st.AdvanceHeight(4, []Job{{ClaimID: 7, Round: 1, Derivation: "d"}})
	require.NoError(t, err)
	require.Empty(t, added)

	st2, err := OpenState(p)
	require.NoError(t, err)
	require.EqualValues(t, 4, st2.LastHeight())
	j, ok := st2.Job(7, 1)
	require.True(t, ok)
	require.Equal(t, JobCommitting, j.Status)
	require.Equal(t, "o", j.Output)
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".state.json.tmp-*"))
	require.Empty(t, matches, "no temporary files left behind")
}

func TestStateCorruptIsClearError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, atomicfile.WriteFile(p, []byte("{not json"), 0o600))
	_, err := OpenState(p)
	require.ErrorContains(t, err, "corrupt")
}

func TestFollowerInOrderWithRetries(t *testing.T) {
	c := chaintest.NewBlocks()
	for i := 0; i < 6; i++ {
		c.Add()
	}
	c.FailNext(3, 2)
	var got []int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &Follower{Source: c, Start: 2, Poll: 20 * time.Millisecond, Log: quiet,
		Handle: func(_ context.Context, h int64, _ []abci.Event) error {
			got = append(got, h)
			if h == 6 {
				cancel()
			}
			return nil
		}}
	require.ErrorIs(t, f.Run(ctx), context.Canceled)
	require.Equal(t, []int64{2, 3, 4, 5, 6}, got)
	require.Equal(t, []int64{2, 3, 3, 3, 4, 5, 6}, c.Calls(), "the failing height is retried, never skipped")
}

// A fresh follower on a node that joined by state sync (no blocks before 4) starts at the
// node's earliest block; one that has handled heights retries the missing height, never
// skips it.
func TestFollowerFreshStartsAtTheNodesEarliest(t *testing.T) {
	c := chaintest.NewBlocks()
	for i := 0; i < 6; i++ {
		c.Add()
	}
	c.SetEarliest(4)
	follow := func(fromEarliest bool, start, until int64) []int64 {
		var got []int64
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		f := &Follower{Source: c, Start: start, FromEarliest: fromEarliest, Poll: 10 * time.Millisecond, Log: quiet,
			Handle: func(_ context.Context, h int64, _ []abci.Event) error {
				got = append(got, h)
				if h == until {
					cancel()
				}
				return nil
			}}
		if fromEarliest {
			require.ErrorIs(t, f.Run(ctx), context.Canceled)
		} else {
			// Stop it once it has retried the missing height a few times.
			go func() {
				defer cancel()
				for ctx.Err() == nil {
					if c.CallCount() >= 3 {
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
			require.ErrorIs(t, f.Run(ctx), context.Canceled)
		}
		return got
	}
	require.Equal(t, []int64{4, 5, 6}, follow(true, 1, 6))
	c.Calls()
	require.Empty(t, follow(false, 2, 6), "a follower with state must not skip heights")
	require.Equal(t, []int64{2, 2, 2}, c.Calls()[:3])
}

type harness struct {
	t      *testing.T
	chain  *chaintest.Blocks
	claims *memClaims
	b      *gateBuilder
	path   string
	cancel context.CancelFunc
	done   chan error
	sc     *Sidecar
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, chain: chaintest.NewBlocks(), claims: newMemClaims("bc1me"), b: &gateBuilder{},
		path: filepath.Join(t.TempDir(), "state.json")}
}

func (h *harness) start(workers int) {
	sc, err := New(Config{StatePath: h.path, Workers: workers, Poll: 10 * time.Millisecond, Log: quiet}, h.chain, h.claims, h.b, nil)
	require.NoError(h.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	h.sc, h.cancel, h.done = sc, cancel, make(chan error, 1)
	go func() { h.done <- sc.Run(ctx) }()
}

// startHeldBuild assigns (claim, round) of drv to us, starts the sidecar with one worker and
// returns once the build started; the builder holds it until h.b.gate is closed.
func (h *harness) startHeldBuild(claim uint64, round uint32, drv cidT) {
	h.b.gate = make(chan struct{})
	h.b.started = make(chan cidT, 4)
	h.chain.Add(assignEvent(claim, round, "bc1me", drv))
	h.start(1)
	<-h.b.started
}

func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		require.NoError(h.t, err)
	case <-time.After(10 * time.Second):
		h.t.Fatal("sidecar did not stop")
	}
}

func (h *harness) waitJob(claim uint64, round uint32, want JobStatus) Job {
	var j Job
	if !assert.Eventually(h.t, func() bool {
		var ok bool
		j, ok = h.sc.State().Job(claim, round)
		return ok && j.Status == want
	}, 10*time.Second, 5*time.Millisecond) {
		// The job as last seen (arguments to Eventually would be evaluated before it runs).
		h.t.Fatalf("job %d/%d never reached %s (now %+v)", claim, round, want, j)
	}
	return j
}

// Every round is blind (x/claims/README.md §Blind rounds): the sidecar builds its own
// assignments, commits, and reveals when the claim's reveals open (here with the commit).
func TestSidecarBuildsCommitsAndRevealsOwnAssignments(t *testing.T) {
	h := newHarness(t)
	drv := testCID("drv-a")
	h.chain.Add()
	h.chain.Add(assignEvent(1, 1, "bc1other", drv), assignEvent(2, 1, "bc1me", drv))
	h.start(2)
	defer h.stop()
	j := h.waitJob(2, 1, JobSent)
	require.Equal(t, testCID("out-of-"+drv.String()).String(), j.Output)
	require.EqualValues(t, 42, j.BuildTimeMs)
	commits, reveals := h.claims.sent()
	require.Equal(t, 1, commits)
	require.Equal(t, 1, reveals)
	h.claims.mu.Lock()
	require.Equal(t, report{chain.RoundKey{ClaimID: 2, Round: 1}, testCID("out-of-" + drv.String()), 42},
		h.claims.revealed[chain.RoundKey{ClaimID: 2, Round: 1}])
	h.claims.mu.Unlock()
	_, ok := h.sc.State().Job(1, 1)
	require.False(t, ok, "another validator's assignment is not ours")
	require.Eventually(t, func() bool { return h.sc.State().LastHeight() == 2 }, 5*time.Second, 5*time.Millisecond)
	st := StatusOf(h.sc.State(), "bc1me")
	require.Equal(t, 1, st.ReportsSent)
	require.Empty(t, st.InFlight)
	require.Equal(t, 1.0, counterValue(t, h.sc.m.Rounds.WithLabelValues("reported")))
	require.Equal(t, 1.0, counterValue(t, h.sc.m.ReportsSent))
	require.Equal(t, 0.0, counterValue(t, h.sc.m.Rounds.WithLabelValues("failed")))
	require.Equal(t, 1.0, counterValue(t, h.sc.m.Builds.WithLabelValues("ok")))
}

func TestSidecarRestartMidBuildCommitsOnce(t *testing.T) {
	h := newHarness(t)
	h.startHeldBuild(5, 2, testCID("drv-b"))
	h.waitJob(5, 2, JobBuilding)
	h.stop() // "killed" mid-build
	commits, _ := h.claims.sent()
	require.Equal(t, 0, commits)
	j, _ := h.sc.State().Job(5, 2)
	require.Equal(t, JobBuilding, j.Status, "an interrupted job keeps its status for the next start")

	h.b.gate = nil
	h.chain.Add()
	h.start(1)
	defer h.stop()
	h.waitJob(5, 2, JobSent)
	commits, reveals := h.claims.sent()
	require.Equal(t, 1, commits)
	require.Equal(t, 1, reveals)
	require.Equal(t, 2, h.b.builds)
}

func TestSidecarLostBroadcastResponseIsNotResent(t *testing.T) {
	h := newHarness(t)
	h.claims.failAfterLanding = true // the commit lands, its response is lost
	h.chain.Add(assignEvent(9, 1, "bc1me", testCID("drv-c")))
	h.start(1)
	h.waitJob(9, 1, JobSent)
	h.stop()
	commits, reveals := h.claims.sent()
	require.Equal(t, 1, commits, "the chain had the commit: no second broadcast")
	require.Equal(t, 1, reveals)
	require.Equal(t, 1.0, testutilValue(h.sc.m.DuplicateAvoids))
}

// A sidecar restarted after its reveal landed (state "committed", the reveal on chain) asks
// the chain and sends nothing; a job an older sidecar left "sending" (an open report, which
// the chain refuses now) on a round that is still open is built and committed, never reported.
func TestSidecarRestartAsksChainFirst(t *testing.T) {
	h := newHarness(t)
	drv := testCID("drv-d")
	salt := []byte("persisted salt 0123456789abcdefg")
	k := chain.RoundKey{ClaimID: 3, Round: 1}
	st, err := OpenState(h.path)
	require.NoError(t, err)
	_, err = st.AdvanceHeight(1, []Job{{ClaimID: 3, Round: 1, Derivation: drv.String()}})
	require.NoError(t, err)
	_, err = st.Update(3, 1, func(j *Job) {
		j.Status, j.Output, j.BuildTimeMs, j.Salt = JobCommitted, testCID("o").String(), 5, salt
	})
	require.NoError(t, err)
	h.claims.commits[k] = claimstypes.BuildCommitment("bc1me", 3, 1, testCID("o").String(), 5, salt)
	h.claims.revealing[3] = true
	h.claims.revealed[k] = report{k, testCID("o"), 5}
	h.chain.Add()

	h.start(1)
	defer h.stop()
	h.waitJob(3, 1, JobSent)
	commits, reveals := h.claims.sent()
	require.Equal(t, 0, commits+reveals, "nothing sent again")
	require.Equal(t, 0, h.b.builds, "no rebuild either")

	h2 := newHarness(t)
	st2, err := OpenState(h2.path)
	require.NoError(t, err)
	_, err = st2.AdvanceHeight(1, []Job{{ClaimID: 4, Round: 1, Derivation: drv.String()}})
	require.NoError(t, err)
	_, err = st2.Update(4, 1, func(j *Job) { j.Status, j.Output, j.BuildTimeMs = "sending", testCID("o4").String(), 5 })
	require.NoError(t, err)
	h2.chain.Add()
	h2.claims.open[chain.RoundKey{ClaimID: 4, Round: 1}] = true
	h2.start(1)
	defer h2.stop()
	j := h2.waitJob(4, 1, JobSent)
	require.Equal(t, testCID("out-of-"+drv.String()).String(), j.Output, "rebuilt, not the stored output")
	require.Len(t, j.Salt, saltfile.SaltLen)
	commits, reveals = h2.claims.sent()
	require.Equal(t, 1, commits)
	require.Equal(t, 1, reveals)
	require.Equal(t, 1, h2.b.builds)
}

func TestSidecarRoundTimeoutCancelsBuild(t *testing.T) {
	h := newHarness(t)
	h.startHeldBuild(11, 1, testCID("drv-e"))
	defer h.stop()
	h.chain.Add(timeoutEvent(11, 1))
	h.waitJob(11, 1, JobSkipped)
	commits, _ := h.claims.sent()
	require.Equal(t, 0, commits)
}

func TestSidecarWorkerPoolIsBounded(t *testing.T) {
	h := newHarness(t)
	h.b.gate = make(chan struct{})
	h.b.started = make(chan cidT, 16)
	var evs []abci.Event
	for i := uint64(1); i <= 6; i++ {
		evs = append(evs, assignEvent(i, 1, "bc1me", testCID("drv-pool")))
	}
	h.chain.Add(evs...)
	h.start(2)
	defer h.stop()
	<-h.b.started
	<-h.b.started
	select {
	case <-h.b.started:
		t.Fatal("a third build started with 2 workers")
	case <-time.After(200 * time.Millisecond):
	}
	var once sync.Once
	once.Do(func() { close(h.b.gate) })
	for i := uint64(1); i <= 6; i++ {
		h.waitJob(i, 1, JobSent)
	}
	require.Equal(t, 2, h.b.maxSeen)
	commits, reveals := h.claims.sent()
	require.Equal(t, 6, commits)
	require.Equal(t, 6, reveals)
}

func TestDecide(t *testing.T) {
	require.Equal(t, markettypes.OUTCOME_MISBEHAVIOUR_REPORT, Decide("a", "a", "b"))
	require.Equal(t, markettypes.OUTCOME_MISBEHAVIOUR_CLAIM, Decide("b", "a", "b"))
	require.Equal(t, markettypes.OUTCOME_NON_DETERMINISM, Decide("c", "a", "b"))
}

// A market opens on a claim: a sidecar that was not assigned rebuilds the
// derivation, commits the outcome its output implies, and reveals it once
// the commit window has closed, with the persisted salt.
func TestSidecarPredictsInMarkets(t *testing.T) {
	h := newHarness(t)
	mk := newMemMarkets()
	drv := testCID("drv-disputed")
	honest := testCID("out-of-" + drv.String()).String() // what gateBuilder builds
	mk.drv[21] = drv
	h.chain.Add(marketEvent(4, 21, "bafy-lie", honest, 3, 5))
	stop := runMarkets(t, h, mk)
	defer stop()
	sc := h.sc
	require.Eventually(t, func() bool {
		p, ok := sc.State().Prediction(4)
		return ok && p.Status == PredCommitted
	}, 5*time.Second, 5*time.Millisecond)
	_, ok := mk.revealed(4)
	require.False(t, ok, "no reveal while commits are open")
	h.chain.Add() // 2
	h.chain.Add() // 3 = commit_end
	h.chain.Add() // 4: reveals open
	require.Eventually(t, func() bool {
		p, _ := sc.State().Prediction(4)
		return p.Status == PredRevealed
	}, 5*time.Second, 5*time.Millisecond)
	o, ok := mk.revealed(4)
	require.True(t, ok)
	require.Equal(t, markettypes.OUTCOME_MISBEHAVIOUR_CLAIM, o, "our rebuild matched the dissent: the claim lied")
}

// runMarkets runs a sidecar with markets until it is cancelled.
func runMarkets(t *testing.T, h *harness, mk *memMarkets) (stop func()) {
	sc, err := New(Config{StatePath: h.path, Workers: 1, Poll: 10 * time.Millisecond, Log: quiet}, h.chain, h.claims, h.b, nil)
	require.NoError(t, err)
	sc.SetMarkets(mk)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	h.sc = sc
	return func() { cancel(); require.NoError(t, <-done) }
}

// A commit and a reveal that land but whose wait for the block fails (a
// timeout) are not resent, which the chain would refuse, and the prediction
// is not abandoned: persist, then ask the chain before resending.
func TestSidecarPredictionThatLandedButTimedOutIsRevealed(t *testing.T) {
	h := newHarness(t)
	mk := newMemMarkets()
	mk.failAfterLanding = true
	drv := testCID("drv-disputed")
	mk.drv[21] = drv
	h.chain.Add(marketEvent(4, 21, "bafy-lie", testCID("out-of-"+drv.String()).String(), 1, 5))
	stop := runMarkets(t, h, mk)
	defer stop()
	require.Eventually(t, func() bool { p, _ := h.sc.State().Prediction(4); return p.Status == PredCommitted },
		10*time.Second, 5*time.Millisecond)
	// From height 2, past commit_end (the commit's task may still run at 2: addBlocksUntil).
	var p Prediction
	h.addBlocksUntil(predKey(4), func() bool { p, _ = h.sc.State().Prediction(4); return p.Status == PredRevealed },
		func() string { return fmt.Sprintf("prediction 4 never revealed (now %+v)", p) })
	require.Equal(t, 2, mk.sent(), "one commit and one reveal, none resent")
}

// A sidecar killed after sending a commit (state "committing", the commit on
// chain) or a reveal (state "committed", the reveal on chain) finds them on
// chain after the restart and neither resends nor gives up.
func TestSidecarRestartedPredictionAsksChainFirst(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   PredictionStatus
		revealed bool
	}{{"killed while committing", PredCommitting, false}, {"killed while revealing", PredCommitted, true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			mk := newMemMarkets()
			salt := []byte("0123456789abcdef0123456789abcdef")
			o := markettypes.OUTCOME_MISBEHAVIOUR_CLAIM
			st, err := OpenState(h.path)
			require.NoError(t, err)
			_, _, err = st.Advance(1, nil, []Prediction{{MarketID: 4, ClaimID: 21, Claimed: "a", Reported: "b", CommitEnd: 1, RevealEnd: 9}})
			require.NoError(t, err)
			_, err = st.UpdatePrediction(4, func(p *Prediction) { p.Status, p.Outcome, p.Salt, p.Output = tc.status, o, salt, "b" })
			require.NoError(t, err)
			mk.commits[4], mk.salts[4] = o, salt // the commit landed before the kill
			if tc.revealed {
				mk.reveals[4] = o // and so did the reveal
			}
			h.chain.Add()
			h.chain.Add() // 2: past commit_end, reveals open
			stop := runMarkets(t, h, mk)
			defer stop()
			require.Eventually(t, func() bool { p, _ := h.sc.State().Prediction(4); return p.Status != tc.status },
				10*time.Second, 5*time.Millisecond)
			// The reveal goes out when a height in its window is handled while no task of the
			// market runs (the one that found the commit on chain may still be running when
			// the next height is followed, and that height then skips the market): add heights
			// until it is revealed, as a live chain does.
			var p Prediction
			h.addBlocksUntil(predKey(4), func() bool { p, _ = h.sc.State().Prediction(4); return p.Status == PredRevealed },
				func() string { return fmt.Sprintf("prediction 4 never revealed (now %+v)", p) })
			got, ok := mk.revealed(4)
			require.True(t, ok)
			require.Equal(t, o, got)
			want := 1
			if tc.revealed {
				want = 0
			}
			require.Equal(t, want, mk.sent(), "only what had not landed is sent")
		})
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
