package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cid "github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/buildchain/buildchain/internal/saltfile"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/p2p"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// Config of a Sidecar.
type Config struct {
	// StatePath is the state file (e.g. $HOME/sidecar/state.json).
	StatePath string
	// Workers bounds concurrent assignments (fetch + build + report); default 2.
	Workers int
	// StartHeight is where a sidecar with no state starts following (default 1: the node's
	// earliest block, which after a state sync is the first one after the snapshot).
	StartHeight int64
	// FetchTimeout bounds fetching one derivation's closure (default 10 min).
	FetchTimeout time.Duration
	// Poll is the follower's polling interval when websocket ticks are missing.
	Poll time.Duration
	// MetricsAddr, if set, serves /metrics (Prometheus) and /status (JSON)
	// there, e.g. "127.0.0.1:26690".
	MetricsAddr string
	// Address is our on-chain account, put into gossip build records.
	Address string
	Log     *slog.Logger
	Metrics *Metrics
}

// Sidecar is the running daemon.
type Sidecar struct {
	cfg     Config
	log     *slog.Logger
	state   *State
	source  BlockSource
	claims  Claims
	builder Builder
	net     Network // may be nil: inputs must then be local
	markets Markets // nil: no market participation
	m       *Metrics

	sem chan struct{}
	wg  sync.WaitGroup

	mu       sync.Mutex
	inflight map[string]context.CancelFunc
	ended    map[string]bool // rounds ended on chain while we were still at it
	metrics  net.Listener
}

// New opens the state and prepares a sidecar; Run starts it.
func New(cfg Config, source BlockSource, claims Claims, b Builder, network Network) (*Sidecar, error) {
	if cfg.StatePath == "" {
		return nil, errors.New("sidecar: empty state path")
	}
	if source == nil || claims == nil || b == nil {
		return nil, errors.New("sidecar: block source, claims client and builder are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 10 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	st, err := OpenState(cfg.StatePath)
	if err != nil {
		return nil, err
	}
	return &Sidecar{
		cfg: cfg, log: cfg.Log.With("module", "sidecar", "validator", claims.Validator()),
		state: st, source: source, claims: claims, builder: b, net: network, m: cfg.Metrics,
		sem: make(chan struct{}, cfg.Workers), inflight: map[string]context.CancelFunc{}, ended: map[string]bool{},
	}, nil
}

// State exposes the durable state (status output, tests).
func (s *Sidecar) State() *State { return s.state }

// MetricsAddr is the address /metrics listens on once Run started (tests use port 0).
func (s *Sidecar) MetricsAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metrics == nil {
		return ""
	}
	return s.metrics.Addr().String()
}

// Run resumes unfinished jobs, then follows the chain until ctx ends. It
// waits for running jobs to stop before returning.
func (s *Sidecar) Run(ctx context.Context) error {
	if s.cfg.MetricsAddr != "" {
		if err := s.serveMetrics(ctx); err != nil {
			return err
		}
	}
	s.m.Height.Set(float64(s.state.LastHeight()))
	for _, j := range s.state.Jobs() {
		if !j.Status.Terminal() {
			s.log.Info("resuming job after restart", "claim", j.ClaimID, "round", j.Round, "status", j.Status)
			s.dispatch(ctx, j)
		}
	}
	if s.markets != nil {
		for _, p := range s.state.Predictions() {
			if p.Status == PredDeciding || p.Status == PredCommitting {
				s.dispatchPrediction(ctx, p)
			}
		}
	}
	start := s.state.LastHeight() + 1
	if s.state.LastHeight() == 0 && s.cfg.StartHeight > 1 {
		start = s.cfg.StartHeight
	}
	f := &Follower{
		Source: s.source, Start: start, Handle: s.handleHeight, Poll: s.cfg.Poll, Log: s.log,
		OnError: func(error) { s.m.FollowErrors.Inc() },
		// A new builder on a node that joined by state sync: no assignment to it can be
		// in the blocks before the snapshot (it registered later), and the node has none.
		FromEarliest: s.state.LastHeight() == 0 && s.cfg.StartHeight <= 1,
	}
	s.log.Info("following the chain", "from", start, "workers", s.cfg.Workers)
	err := f.Run(ctx)
	s.wg.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// handleHeight records the height's assignments for us and the height itself
// in one atomic state write, then starts the new jobs.
func (s *Sidecar) handleHeight(ctx context.Context, h int64, events []abci.Event) error {
	assigned, ended, err := s.claims.Decode(events)
	if err != nil {
		// An event we cannot read could be an assignment: stop here and retry
		// rather than skip it (a version mismatch needs an operator).
		return fmt.Errorf("decode events: %w", err)
	}
	me := s.claims.Validator()
	var jobs []Job
	for _, a := range assigned {
		if a.Validator != me {
			continue
		}
		jobs = append(jobs, Job{ClaimID: a.ClaimID, Round: a.Round, Derivation: a.Derivation.String(), Deadline: a.Deadline, Height: h})
	}
	var preds []Prediction
	if s.markets != nil {
		opened, err := s.markets.DecodeMarkets(events)
		if err != nil {
			return fmt.Errorf("decode market events: %w", err)
		}
		for _, m := range opened {
			preds = append(preds, Prediction{MarketID: m.MarketID, ClaimID: m.ClaimID, Claimed: m.Claimed,
				Reported: m.Reported, CommitEnd: m.CommitEnd, RevealEnd: m.RevealEnd})
		}
	}
	opened, err := chain.DecodeRevealsOpened(events)
	if err != nil {
		return fmt.Errorf("decode reveal events: %w", err)
	}
	added, addedPreds, err := s.state.Advance(h, jobs, preds)
	if err != nil {
		return err
	}
	s.m.Height.Set(float64(h))
	for _, k := range ended {
		s.endRound(k)
	}
	for _, j := range added {
		s.m.Assignments.Inc()
		s.log.Info("assigned", "claim", j.ClaimID, "round", j.Round, "derivation", j.Derivation, "height", h, "deadline", j.Deadline)
		s.dispatch(ctx, j)
	}
	// Committed blind rounds: the chain says at each height whether their reveal phase opened
	// (asking, rather than waiting for EventRevealOpened, also covers a reveal phase that
	// opened while the job was still sending its commit, or while we were down).
	for _, j := range s.state.Jobs() {
		if j.Status == JobCommitted {
			s.dispatch(ctx, j)
		}
	}
	for _, o := range opened {
		if o.Publisher == me {
			s.revealPublished(ctx, o.ClaimID)
		}
	}
	if s.markets != nil {
		s.marketHeight(ctx, h, addedPreds)
	}
	return nil
}

// endRound cancels our work on a round the chain has closed (e.g. its
// deadline passed): a report could not be accepted any more. Round 0 means
// every round of the claim (the claim reached a verdict).
func (s *Sidecar) endRound(k chain.RoundKey) {
	var cancels []context.CancelFunc
	s.mu.Lock()
	for key, cancel := range s.inflight {
		if key == JobKey(k.ClaimID, k.Round) || (k.Round == 0 && strings.HasPrefix(key, strconv.FormatUint(k.ClaimID, 10)+"/")) {
			s.ended[key] = true
			cancels = append(cancels, cancel)
		}
	}
	s.mu.Unlock()
	for _, c := range cancels {
		c()
	}
}

// spawn runs fn in the background under key, at most one at a time per
// key (a second spawn of a busy key does nothing); endRound cancels it
// through its context.
func (s *Sidecar) spawn(ctx context.Context, key string, fn func(ctx context.Context)) {
	s.mu.Lock()
	if _, busy := s.inflight[key]; busy {
		s.mu.Unlock()
		return
	}
	kctx, cancel := context.WithCancel(ctx)
	s.inflight[key] = cancel
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			cancel()
			s.mu.Lock()
			delete(s.inflight, key)
			delete(s.ended, key)
			s.mu.Unlock()
		}()
		fn(kctx)
	}()
}

// dispatch runs a job on the bounded pool. Goroutines waiting for a slot are
// cheap; the builds themselves never exceed Workers.
func (s *Sidecar) dispatch(ctx context.Context, j Job) {
	s.spawn(ctx, j.Key(), func(jctx context.Context) {
		if cur, ok := s.state.Job(j.ClaimID, j.Round); ok {
			j = cur // the newest status (a committed job dispatched again)
		}
		if j.Status == JobCommitted {
			// Only a reveal is left: no build, no worker slot.
			s.runJob(jctx, j)
			if jctx.Err() != nil {
				s.afterCancel(ctx, j)
			}
			return
		}
		select {
		case s.sem <- struct{}{}:
		case <-jctx.Done():
			s.afterCancel(ctx, j)
			return
		}
		defer func() { <-s.sem }()
		s.m.InFlight.Inc()
		defer s.m.InFlight.Dec()
		s.runJob(jctx, j)
		if jctx.Err() != nil {
			s.afterCancel(ctx, j)
		}
	})
}

// afterCancel settles a job whose round ended on chain while we were at it:
// the chain says whether our reveal made it (our own reveal also ends the
// round) or not. A job stopped by shutdown keeps its status and is resumed
// at the next start.
func (s *Sidecar) afterCancel(ctx context.Context, j Job) {
	s.mu.Lock()
	ended := s.ended[j.Key()]
	s.mu.Unlock()
	if !ended || ctx.Err() != nil {
		return
	}
	cur, _ := s.state.Job(j.ClaimID, j.Round)
	if cur.Status.Terminal() {
		return
	}
	rs, err := s.roundState(ctx, j)
	switch {
	case err != nil:
		return // resumed (and asked again) at the next start
	case rs == chain.RoundReported:
		s.setStatus(j, JobSent, "")
	case rs == chain.RoundGone:
		s.m.Skipped.Inc()
		s.setStatus(j, JobSkipped, "round ended on chain before our reveal")
	case rs == chain.RoundCommitted || rs == chain.RoundRevealable:
		s.markCommitted(j)
	}
}

func (s *Sidecar) setStatus(j Job, st JobStatus, msg string) {
	s.countRound(st) // before the status is visible, so that whoever sees it sees the count
	if _, err := s.state.Update(j.ClaimID, j.Round, func(x *Job) {
		x.Status = st
		if msg != "" {
			x.Error = msg
		}
	}); err != nil {
		s.log.Error("persist job status", "claim", j.ClaimID, "round", j.Round, "err", err)
	}
}

// countRound counts a round that reached a terminal status in Metrics.Rounds.
func (s *Sidecar) countRound(st JobStatus) {
	switch st {
	case JobSent:
		s.m.Rounds.WithLabelValues("reported").Inc()
	case JobSkipped:
		s.m.Rounds.WithLabelValues("closed").Inc()
	case JobFailed:
		s.m.Rounds.WithLabelValues("failed").Inc()
	}
}

// fetch makes drv's closure local and held (release when the build is
// done), counting the bytes that came from peers.
func (s *Sidecar) fetch(ctx context.Context, drv cid.Cid) (release func(), err error) {
	fctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	st, release, err := s.net.Fetch(fctx, drv, nil)
	s.m.FetchBytes.Add(float64(st.FetchedBytes))
	return release, err
}

// roundState asks the chain, retrying transient errors a few times.
func (s *Sidecar) roundState(ctx context.Context, j Job) (chain.RoundState, error) {
	var err error
	for i := 0; i < 5; i++ {
		var rs chain.RoundState
		if rs, err = s.claims.RoundState(ctx, j.ClaimID, j.Round); err == nil {
			return rs, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Duration(i+1) * 500 * time.Millisecond):
		}
	}
	return 0, err
}

// runJob takes one assignment from wherever it stopped to its commit on chain (and its reveal,
// when our commit was the claim's last: x/claims/README.md §Blind rounds).
func (s *Sidecar) runJob(ctx context.Context, j Job) {
	log := s.log.With("claim", j.ClaimID, "round", j.Round, "derivation", j.Derivation)
	// Never send twice: whatever the stored status, the chain decides whether
	// this round still wants our commit or reveal.
	rs, err := s.roundState(ctx, j)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("cannot read round state; will retry at next start", "err", err)
		}
		return
	}
	switch rs {
	case chain.RoundReported:
		s.setStatus(j, JobSent, "")
		return
	case chain.RoundGone:
		log.Info("round no longer ours; skipping")
		s.m.Skipped.Inc()
		s.setStatus(j, JobSkipped, "round no longer assigned to us")
		return
	case chain.RoundCommitted:
		s.markCommitted(j) // the reveal waits for the claim's reveal phase
		return
	case chain.RoundRevealable:
		s.revealJob(ctx, j, log)
		return
	}

	if out, _ := cid.Decode(j.Output); j.Status == JobCommitting && out.Defined() && len(j.Salt) > 0 {
		// Result and salt were persisted before a crash or a failed send: commit
		// exactly those, never a new build with a new salt.
		s.commitJob(ctx, j, log)
		return
	}
	drv, err := cid.Decode(j.Derivation)
	if err != nil {
		s.setStatus(j, JobFailed, "bad derivation CID: "+err.Error())
		return
	}
	if _, err := s.state.Update(j.ClaimID, j.Round, func(x *Job) { x.Status = JobBuilding; x.Attempts++ }); err != nil {
		log.Error("persist", "err", err)
		return
	}
	if s.net != nil {
		t0 := time.Now()
		release, err := s.fetch(ctx, drv)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("fetch derivation closure failed", "err", err)
				s.m.Builds.WithLabelValues("failed").Inc()
				s.setStatus(j, JobFailed, "fetch: "+err.Error())
			}
			return
		}
		defer release() // the closure stays held until the commit is sent
		s.m.FetchSeconds.Observe(time.Since(t0).Seconds())
		log.Info("derivation closure local", "took", time.Since(t0).Round(time.Millisecond))
	}
	out, took, err := s.builder.Rebuild(ctx, drv)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("build failed", "err", err)
			s.m.Builds.WithLabelValues("failed").Inc()
			s.setStatus(j, JobFailed, "build: "+err.Error())
		}
		return
	}
	s.m.Builds.WithLabelValues("ok").Inc()
	s.m.BuildSeconds.Observe(took.Seconds())
	buildMs := uint64(took.Milliseconds())
	if buildMs == 0 {
		buildMs = 1 // the chain reads 0 as "no time measured"
	}
	log.Info("built", "output", out, "build_ms", buildMs)
	// Persist the result and a fresh salt, then commit. The output is announced only
	// after our reveal (revealJob).
	salt, err := saltfile.NewSalt()
	if err != nil {
		log.Error("salt", "err", err)
		return
	}
	j, err = s.state.Update(j.ClaimID, j.Round, func(x *Job) {
		x.Status, x.Output, x.BuildTimeMs, x.Salt = JobCommitting, out.String(), buildMs, salt
	})
	if err != nil {
		log.Error("persist", "err", err)
		return
	}
	s.commitJob(ctx, j, log)
}

// markCommitted records that our commit of a blind round is on chain.
func (s *Sidecar) markCommitted(j Job) {
	if cur, ok := s.state.Job(j.ClaimID, j.Round); ok && cur.Status == JobCommitted {
		return
	}
	if _, err := s.state.Update(j.ClaimID, j.Round, func(x *Job) { x.Status = JobCommitted }); err != nil {
		s.log.Error("persist job status", "claim", j.ClaimID, "round", j.Round, "err", err)
	}
}

// commitJob sends the commitment of a blind round's persisted result (x/claims/README.md
// §Blind rounds), once: sendOnce asks the chain before every attempt. The reveal follows when
// the claim's reveal phase opens, at once if our commit was the last one.
func (s *Sidecar) commitJob(ctx context.Context, j Job, log *slog.Logger) {
	commitment := claimstypes.BuildCommitment(s.claims.Validator(), j.ClaimID, j.Round, j.Output, j.BuildTimeMs, j.Salt)
	err := sendOnce(ctx, log, "commit", func(ctx context.Context) (bool, error) {
		rs, err := s.claims.RoundState(ctx, j.ClaimID, j.Round)
		return s.landed(rs == chain.RoundCommitted || rs == chain.RoundRevealable || rs == chain.RoundReported), err
	}, func(ctx context.Context) (string, error) {
		return s.claims.Commit(ctx, j.ClaimID, j.Round, commitment)
	})
	if err != nil {
		if !s.unsent(ctx, j, err, "round ended before our commit landed") {
			s.setStatus(j, JobFailed, "commit: "+err.Error())
		}
		return
	}
	s.markCommitted(j)
	if rs, err := s.roundState(ctx, j); err == nil && rs == chain.RoundRevealable {
		s.revealJob(ctx, j, log)
	}
}

// landed counts a commit or reveal found on chain before sendOnce sent it (a restart, or a
// broadcast whose response was lost): one send avoided.
func (s *Sidecar) landed(on bool) bool {
	if on {
		s.m.DuplicateAvoids.Inc()
	}
	return on
}

// unsent takes a commit or reveal that could not be sent. It reports true when nothing is left
// to do: the node is stopping, or the chain says the round is gone (the job is then skipped,
// with why and the error). Otherwise it counts the error and the caller decides.
func (s *Sidecar) unsent(ctx context.Context, j Job, err error, why string) bool {
	if ctx.Err() != nil {
		return true
	}
	s.m.ReportErrors.Inc()
	if rs, rerr := s.roundState(ctx, j); rerr == nil && rs == chain.RoundGone {
		s.m.Skipped.Inc()
		s.setStatus(j, JobSkipped, why+": "+err.Error())
		return true
	}
	return false
}

// revealJob opens our commitment once the claim is REVEALING, once (sendOnce), and then
// announces the output: every round is committed by now, so nobody can copy it any more.
func (s *Sidecar) revealJob(ctx context.Context, j Job, log *slog.Logger) {
	if cur, ok := s.state.Job(j.ClaimID, j.Round); ok {
		j = cur
	}
	out, err := cid.Decode(j.Output)
	if err != nil || len(j.Salt) == 0 {
		s.setStatus(j, JobFailed, "committed, but no persisted result and salt to reveal")
		return
	}
	err = sendOnce(ctx, log, "reveal", func(ctx context.Context) (bool, error) {
		rs, err := s.claims.RoundState(ctx, j.ClaimID, j.Round)
		return s.landed(rs == chain.RoundReported), err
	}, func(ctx context.Context) (string, error) {
		return s.claims.RevealBuild(ctx, j.ClaimID, j.Round, out, j.BuildTimeMs, j.Salt)
	})
	if err != nil {
		// Unless the reveal phase is over, still committed: asked again at the next height.
		s.unsent(ctx, j, err, "reveal phase ended before our reveal landed")
		return
	}
	s.m.ReportsSent.Inc()
	s.setStatus(j, JobSent, "")
	if drv, err := cid.Decode(j.Derivation); err == nil {
		// Not cut short when the round's end (our own reveal judged) cancels the job.
		s.announce(context.WithoutCancel(ctx), drv, out, log)
	}
}

// revealPublished reveals a blind claim this account published, when its reveal phase
// opened (for a `publish` that did not wait; one that waits reveals it too, and whichever
// is second finds it revealed on chain).
func (s *Sidecar) revealPublished(ctx context.Context, claimID uint64) {
	p, ok := s.claims.(Publisher)
	if !ok {
		return
	}
	s.spawn(ctx, "published/"+strconv.FormatUint(claimID, 10), func(ctx context.Context) {
		log := s.log.With("claim", claimID)
		for attempt := 1; attempt <= 3; attempt++ {
			c, err := p.Claim(ctx, claimID)
			if err == nil {
				var sent bool
				if sent, err = p.RevealDue(ctx, c); err == nil {
					if sent {
						log.Info("revealed our published claim's output")
					}
					return
				}
				if errors.Is(err, chain.ErrNoSalt) {
					log.Warn("cannot reveal our published claim", "err", err)
					return
				}
			}
			log.Warn("reveal of our published claim failed", "attempt", attempt, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
	})
}

// announce provides the output in the DHT and gossips a signed build
// record; failures only cost discoverability, so they are logged.
func (s *Sidecar) announce(ctx context.Context, drv, out cid.Cid, log *slog.Logger) {
	if s.net == nil {
		return
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.net.Provide(actx, out); err != nil {
		s.m.AnnounceErrors.Inc()
		log.Warn("provide output", "err", err)
	}
	if _, err := s.net.Announce(actx, p2p.BuildRecord{Derivation: drv, Output: out, Address: s.cfg.Address}); err != nil {
		s.m.AnnounceErrors.Inc()
		log.Warn("announce build record", "err", err)
	}
}

// Status is what `node status` prints.
type Status struct {
	Validator   string `json:"validator"`
	LastHeight  int64  `json:"last_height"`
	InFlight    []Job  `json:"in_flight"`
	ReportsSent int    `json:"reports_sent"`
	Skipped     int    `json:"skipped"`
	Failed      []Job  `json:"failed,omitempty"`
	// Markets this sidecar predicted in, and of those, revealed.
	Markets         int `json:"markets"`
	MarketsRevealed int `json:"markets_revealed"`
}

// StatusOf summarises a state (running or not).
func StatusOf(st *State, validator string) Status {
	out := Status{Validator: validator, LastHeight: st.LastHeight(), InFlight: []Job{}}
	for _, j := range st.Jobs() {
		switch j.Status {
		case JobSent:
			out.ReportsSent++
		case JobSkipped:
			out.Skipped++
		case JobFailed:
			out.Failed = append(out.Failed, j)
		default:
			out.InFlight = append(out.InFlight, j)
		}
	}
	for _, p := range st.Predictions() {
		out.Markets++
		if p.Status == PredRevealed {
			out.MarketsRevealed++
		}
	}
	return out
}

func (s *Sidecar) serveMetrics(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("sidecar metrics listener %s: %w", s.cfg.MetricsAddr, err)
	}
	s.mu.Lock()
	s.metrics = ln
	s.mu.Unlock()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(StatusOf(s.state, s.claims.Validator()))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	s.log.Info("metrics and status served", "addr", ln.Addr().String())
	return nil
}
