// Package chaintest holds the in-memory chain the node's unit tests follow:
// Blocks, heights of events appended by the test, with injected failures.
// It is the one such fake (node/sidecar's and node/runtime's tests share it);
// the real CometBFT and x/claims are exercised in tests/e2e.
package chaintest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"
)

// ErrInjected is what Events returns for a failure set with FailNext.
var ErrInjected = errors.New("chaintest: injected rpc failure")

// Blocks is a chain of heights held in memory. It implements node/sidecar's
// BlockSource and EarliestSource; it is safe for concurrent use.
type Blocks struct {
	mu       sync.Mutex
	heights  [][]abci.Event // index h-1
	failAt   map[int64]int  // height -> remaining failures of Events
	calls    []int64
	earliest int64
	ticks    chan int64
}

// NewBlocks returns an empty chain.
func NewBlocks() *Blocks { return &Blocks{failAt: map[int64]int{}, ticks: make(chan int64, 1)} }

// Add appends a height with events, signals it on Ticks (dropped if a tick
// is already pending, as CometBFT's websocket may), and returns the height.
func (c *Blocks) Add(evs ...abci.Event) int64 {
	c.mu.Lock()
	c.heights = append(c.heights, evs)
	h := int64(len(c.heights))
	c.mu.Unlock()
	select {
	case c.ticks <- h:
	default:
	}
	return h
}

// FailNext makes the next n calls of Events for height h fail with ErrInjected.
func (c *Blocks) FailNext(h int64, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failAt[h] = n
}

// SetEarliest makes h the oldest height the chain still has, as on a node
// that joined by state sync: Events of an older height fails.
func (c *Blocks) SetEarliest(h int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.earliest = h
}

// Calls returns the heights Events was asked for so far, in order, and
// forgets them.
func (c *Blocks) Calls() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// CallCount is how many Events calls Calls would return.
func (c *Blocks) CallCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// LatestHeight is the last height added.
func (c *Blocks) LatestHeight(context.Context) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(len(c.heights)), nil
}

// Events returns height h's events, or an injected failure.
func (c *Blocks) Events(_ context.Context, h int64) ([]abci.Event, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, h)
	if c.failAt[h] > 0 {
		c.failAt[h]--
		return nil, ErrInjected
	}
	if h < max(1, c.earliest) || h > int64(len(c.heights)) {
		return nil, fmt.Errorf("chaintest: no height %d", h)
	}
	return c.heights[h-1], nil
}

// EarliestHeight is the oldest height the chain has (0 while it has none).
func (c *Blocks) EarliestHeight(context.Context) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.heights) == 0 {
		return 0, nil
	}
	return max(1, c.earliest), nil
}

// Ticks signals new heights.
func (c *Blocks) Ticks() <-chan int64 { return c.ticks }
