package sidecar

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// sendOnce is how the sidecar sends a transaction whose effect must happen
// exactly once (a market commit, a reveal; a blind build report's commit
// and reveal can use it the same way): persist, then check, then send.
//
// The caller has already persisted everything the send needs (the outcome
// and salt of a commit, say) in the state file, so a process restarted at
// any point sends the same message again, never a different one. Before
// every attempt, and once more after the last failure, sendOnce asks the
// chain (landed) whether an earlier attempt already took effect: a tx that
// timed out waiting for its block, or that a killed process sent just
// before dying, is then recognised instead of resent, which x/market would
// refuse (ErrAlreadyCommitted) and so lose the stake. This is the
// persist-then-check that CometBFT's privval does before re-signing.
//
// landed must read the chain's latest state; send must block until the tx
// is in a block or failed. It returns nil once the effect is on chain.
func sendOnce(ctx context.Context, log *slog.Logger, what string,
	landed func(context.Context) (bool, error), send func(context.Context) (txHash string, err error)) error {
	const attempts = 3
	var last error
	asked := false // the last check got an answer: not landed
	check := func() bool {
		done, err := landed(ctx)
		asked = err == nil
		if err != nil {
			last = fmt.Errorf("ask the chain whether the %s landed: %w", what, err)
		}
		return err == nil && done
	}
	if check() {
		log.Info(what + " already on chain")
		return nil
	}
	for attempt := 1; attempt <= attempts; attempt++ {
		// Never send without an answer from the chain: it could be a
		// second copy of what landed.
		if asked {
			hash, err := send(ctx)
			if err == nil {
				log.Info(what+" sent", "tx", hash)
				return nil
			}
			last = fmt.Errorf("%s: %w", what, err)
		}
		// A send that failed may still have landed (timed out waiting for
		// its block): the chain says.
		if check() {
			log.Info(what+" found on chain after an error", "attempt", attempt)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn(what+" failed", "attempt", attempt, "err", last)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Second):
		}
	}
	return last
}
