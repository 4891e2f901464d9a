// Package gcloop runs a store's garbage collection in a loop for tests that check a GC running
// at any moment loses nothing (node/runtime's TestGCDuringSidecarBuilds, tests/e2e's
// TestGCDuringSidecarBuildsOnChain): before each collection it adds a small unpinned file, so
// that every collection has garbage to sweep.
package gcloop

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/buildchain/buildchain/node/storefs"
)

// Loop is a running GC loop.
type Loop struct {
	stop chan struct{}
	done chan result
}

type result struct {
	collections, swept int64
	err                error
}

// Start starts collecting garbage in s in a loop until Stop. The loop is stopped when the test
// ends if the test did not stop it.
func Start(t testing.TB, s *storefs.Store) *Loop {
	l := &Loop{stop: make(chan struct{}), done: make(chan result, 1)}
	go l.run(s)
	t.Cleanup(func() { _, _, _ = l.Stop() })
	return l
}

func (l *Loop) run(s *storefs.Store) {
	ctx := context.Background()
	var r result
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			l.done <- r
			return
		default:
		}
		// Unpinned on purpose: garbage for the next collection.
		if _, err := s.AddReader(ctx, strings.NewReader(fmt.Sprintf("garbage %d\n", i)), 0,
			storefs.AddOptions{NoTempPin: true}); err != nil {
			r.err = err
			l.done <- r
			return
		}
		res, err := s.GC(ctx)
		if err != nil {
			r.err = err
			l.done <- r
			return
		}
		r.collections++
		r.swept += int64(res.Removed)
	}
}

// Stop ends the loop and returns how many collections ran, how many blocks they swept and
// the first error of an add or a collection. Later calls return the same.
func (l *Loop) Stop() (collections, swept int64, err error) {
	select {
	case <-l.stop:
	default:
		close(l.stop)
		r := <-l.done
		l.done <- r
	}
	r := <-l.done
	l.done <- r
	return r.collections, r.swept, r.err
}
