package sidecar

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cid "github.com/ipfs/go-cid"
)

// Outcome of a prediction market (x/market's numbering).
type Outcome int32

const (
	OutcomeNonDeterminism     Outcome = 1 // the build is not reproducible
	OutcomeMisbehaviourClaim  Outcome = 2 // the publisher's output is a lie
	OutcomeMisbehaviourReport Outcome = 3 // the dissenting report is a lie
)

func (o Outcome) String() string {
	switch o {
	case OutcomeNonDeterminism:
		return "NON_DETERMINISM"
	case OutcomeMisbehaviourClaim:
		return "MISBEHAVIOUR_CLAIM"
	case OutcomeMisbehaviourReport:
		return "MISBEHAVIOUR_REPORT"
	}
	return "UNSPECIFIED"
}

// MarketOpened is a market the chain opened on a disputed claim.
type MarketOpened struct {
	MarketID  uint64
	ClaimID   uint64
	Claimed   string // the publisher's output
	Reported  string // the dissenting report's output
	CommitEnd int64  // last height for commits
	RevealEnd int64  // last height for reveals
}

// Markets is the sidecar's view of x/market. With it, the sidecar takes
// part in every market: it rebuilds the disputed derivation (or uses its
// own report) and predicts from what it got, which is what makes a lying
// publisher or a lying rebuilder lose (SPEC §3).
type Markets interface {
	DecodeMarkets(events []abci.Event) ([]MarketOpened, error)
	// ClaimDerivation names the derivation a claim is about.
	ClaimDerivation(ctx context.Context, claimID uint64) (cid.Cid, error)
	Commit(ctx context.Context, marketID uint64, o Outcome, salt []byte) (txHash string, err error)
	Reveal(ctx context.Context, marketID uint64, o Outcome, salt []byte) (txHash string, err error)
}

// SetMarkets turns market participation on (before Run).
func (s *Sidecar) SetMarkets(m Markets) { s.markets = m }

// Decide is the prediction from our own rebuild: matching the claim says
// the dissent lied, matching the dissent says the claim lied, neither says
// the build is not reproducible.
func Decide(ours, claimed, reported string) Outcome {
	switch ours {
	case claimed:
		return OutcomeMisbehaviourReport
	case reported:
		return OutcomeMisbehaviourClaim
	}
	return OutcomeNonDeterminism
}

func predKey(id uint64) string { return "market/" + strconv.FormatUint(id, 10) }

// marketHeight handles the markets of height h: records new ones (done by
// the caller in the same atomic write), starts predictions and reveals
// those whose reveal window is open.
func (s *Sidecar) marketHeight(ctx context.Context, h int64, added []Prediction) {
	for _, p := range added {
		s.dispatchPrediction(ctx, p)
	}
	for _, p := range s.state.Predictions() {
		if p.Status == PredCommitted && h > p.CommitEnd && h <= p.RevealEnd {
			s.dispatchPrediction(ctx, p)
		}
	}
}

// dispatchPrediction runs the next step of a prediction in the background
// (at most one at a time per market).
func (s *Sidecar) dispatchPrediction(ctx context.Context, p Prediction) {
	key := predKey(p.MarketID)
	s.mu.Lock()
	if _, busy := s.inflight[key]; busy {
		s.mu.Unlock()
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	s.inflight[key] = cancel
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			cancel()
			s.mu.Lock()
			delete(s.inflight, key)
			s.mu.Unlock()
		}()
		s.stepPrediction(pctx, p.MarketID)
	}()
}

func (s *Sidecar) failPrediction(id uint64, msg string) {
	s.log.Warn("market prediction abandoned", "market", id, "reason", msg)
	s.m.Predictions.WithLabelValues("failed").Inc()
	if _, err := s.state.UpdatePrediction(id, func(x *Prediction) { x.Status, x.Error = PredFailed, msg }); err != nil {
		s.log.Error("persist prediction", "market", id, "err", err)
	}
}

// stepPrediction moves a prediction forward from its stored status.
func (s *Sidecar) stepPrediction(ctx context.Context, id uint64) {
	p, ok := s.state.Prediction(id)
	if !ok || p.Status.Terminal() {
		return
	}
	log := s.log.With("market", id, "claim", p.ClaimID)
	if p.Status == PredDeciding {
		out, err := s.ownOutput(ctx, p, log)
		if err != nil {
			if ctx.Err() == nil {
				s.failPrediction(id, "no own build: "+err.Error())
			}
			return
		}
		salt := make([]byte, 32)
		if _, err := rand.Read(salt); err != nil {
			s.failPrediction(id, "salt: "+err.Error())
			return
		}
		o := Decide(out, p.Claimed, p.Reported)
		if p, err = s.state.UpdatePrediction(id, func(x *Prediction) {
			x.Output, x.Outcome, x.Salt, x.Status = out, o, salt, PredCommitting
		}); err != nil {
			log.Error("persist prediction", "err", err)
			return
		}
		log.Info("predicting", "outcome", o, "own_output", out)
	}
	if p.Status == PredCommitting {
		var err error
		for attempt := 1; attempt <= 3; attempt++ {
			var hash string
			if hash, err = s.markets.Commit(ctx, id, p.Outcome, p.Salt); err == nil {
				log.Info("prediction committed", "tx", hash)
				break
			}
			if ctx.Err() != nil {
				return
			}
			log.Warn("commit failed", "attempt", attempt, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		if err != nil {
			s.failPrediction(id, "commit: "+err.Error())
			return
		}
		s.m.Predictions.WithLabelValues("committed").Inc()
		if _, err := s.state.UpdatePrediction(id, func(x *Prediction) { x.Status = PredCommitted }); err != nil {
			log.Error("persist prediction", "err", err)
		}
		return // revealed once a height past commit_end is handled
	}
	if p.Status == PredCommitted {
		var err error
		for attempt := 1; attempt <= 3; attempt++ {
			var hash string
			if hash, err = s.markets.Reveal(ctx, id, p.Outcome, p.Salt); err == nil {
				log.Info("prediction revealed", "outcome", p.Outcome, "tx", hash)
				break
			}
			if ctx.Err() != nil {
				return
			}
			log.Warn("reveal failed", "attempt", attempt, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		if err != nil {
			s.failPrediction(id, "reveal: "+err.Error())
			return
		}
		s.m.Predictions.WithLabelValues("revealed").Inc()
		if _, err := s.state.UpdatePrediction(id, func(x *Prediction) { x.Status = PredRevealed }); err != nil {
			log.Error("persist prediction", "err", err)
		}
	}
}

// ownOutput is our output of the disputed derivation: from our own report
// on the claim if we made one, else from a rebuild now (on the pool).
func (s *Sidecar) ownOutput(ctx context.Context, p Prediction, log *slog.Logger) (string, error) {
	for _, j := range s.state.Jobs() {
		if j.ClaimID == p.ClaimID && j.Output != "" {
			return j.Output, nil
		}
	}
	drv, err := s.markets.ClaimDerivation(ctx, p.ClaimID)
	if err != nil {
		return "", err
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()
	if s.net != nil {
		fctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
		err := s.fetch(fctx, drv)
		cancel()
		if err != nil {
			return "", fmt.Errorf("fetch %s: %w", drv, err)
		}
	}
	out, took, err := s.builder.Rebuild(ctx, drv)
	if err != nil {
		return "", fmt.Errorf("rebuild %s: %w", drv, err)
	}
	log.Info("rebuilt disputed derivation", "derivation", drv, "output", out, "took", took.Round(time.Millisecond))
	return out.String(), nil
}
