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

	"github.com/buildchain/buildchain/node/chain"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

// Markets is the sidecar's view of x/market. With it, the sidecar takes
// part in every market: it rebuilds the disputed derivation (or uses its
// own report) and predicts from what it got, which is what makes a lying
// publisher or a lying rebuilder lose (docs/ARCHITECTURE.md §Chain).
type Markets interface {
	DecodeMarkets(events []abci.Event) ([]chain.MarketOpened, error)
	// ClaimDerivation names the derivation a claim is about.
	ClaimDerivation(ctx context.Context, claimID uint64) (cid.Cid, error)
	Commit(ctx context.Context, marketID uint64, o markettypes.Outcome, salt []byte) (txHash string, err error)
	Reveal(ctx context.Context, marketID uint64, o markettypes.Outcome, salt []byte) (txHash string, err error)
	// OnChain reads our prediction in a market from the chain's latest
	// state (the check of sendOnce).
	OnChain(ctx context.Context, marketID uint64) (chain.PredictionState, error)
}

// SetMarkets turns market participation on (before Run).
func (s *Sidecar) SetMarkets(m Markets) { s.markets = m }

// Decide is the prediction from our own rebuild: matching the claim says
// the dissent lied, matching the dissent says the claim lied, neither says
// the build is not reproducible.
func Decide(ours, claimed, reported string) markettypes.Outcome {
	switch ours {
	case claimed:
		return markettypes.OUTCOME_MISBEHAVIOUR_REPORT
	case reported:
		return markettypes.OUTCOME_MISBEHAVIOUR_CLAIM
	}
	return markettypes.OUTCOME_NON_DETERMINISM
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
		// Outcome and salt are persisted (above, or before a crash): ask
		// the chain before (re)sending, so a commit that landed is never
		// resent nor given up on.
		landed := func(ctx context.Context) (bool, error) {
			st, err := s.markets.OnChain(ctx, id)
			return st.Committed, err
		}
		send := func(ctx context.Context) (string, error) { return s.markets.Commit(ctx, id, p.Outcome, p.Salt) }
		if err := sendOnce(ctx, log, "prediction commit", landed, send); err != nil {
			if ctx.Err() == nil {
				s.failPrediction(id, err.Error())
			}
			return
		}
		s.m.Predictions.WithLabelValues("committed").Inc()
		if _, err := s.state.UpdatePrediction(id, func(x *Prediction) { x.Status = PredCommitted }); err != nil {
			log.Error("persist prediction", "err", err)
		}
		return // revealed once a height past commit_end is handled
	}
	if p.Status == PredCommitted {
		landed := func(ctx context.Context) (bool, error) {
			st, err := s.markets.OnChain(ctx, id)
			return st.Revealed, err
		}
		send := func(ctx context.Context) (string, error) { return s.markets.Reveal(ctx, id, p.Outcome, p.Salt) }
		if err := sendOnce(ctx, log.With("outcome", p.Outcome), "prediction reveal", landed, send); err != nil {
			if ctx.Err() == nil {
				s.failPrediction(id, err.Error())
			}
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
		release, err := s.fetch(ctx, drv)
		if err != nil {
			return "", fmt.Errorf("fetch %s: %w", drv, err)
		}
		defer release()
	}
	out, took, err := s.builder.Rebuild(ctx, drv)
	if err != nil {
		return "", fmt.Errorf("rebuild %s: %w", drv, err)
	}
	log.Info("rebuilt disputed derivation", "derivation", drv, "output", out, "took", took.Round(time.Millisecond))
	return out.String(), nil
}
