package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// BlockSource is what the follower needs from a CometBFT node.
type BlockSource interface {
	// LatestHeight is the newest committed height whose results exist.
	LatestHeight(ctx context.Context) (int64, error)
	// Events returns every event of height h that changed state: those of
	// successful transactions, then FinalizeBlock's (begin/end block).
	Events(ctx context.Context, h int64) ([]abci.Event, error)
	// Ticks delivers (best effort) a value when a new block is committed.
	// The channel may stay silent for long (a dead websocket): the follower
	// then polls.
	Ticks() <-chan int64
}

// EarliestSource is a BlockSource that knows the oldest height it has results for: a node
// that joined by state sync has no blocks before its snapshot (docs/operator-guide.md).
type EarliestSource interface {
	EarliestHeight(ctx context.Context) (int64, error)
}

// HandleFunc handles the events of one height. It runs for heights in
// strictly increasing order, each exactly once per process unless it
// returns an error (then the same height is retried).
type HandleFunc func(ctx context.Context, h int64, events []abci.Event) error

// Follower walks the chain height by height.
type Follower struct {
	Source BlockSource
	// Start is the first height to handle (last handled + 1).
	Start int64
	// Handle is called for each height in order.
	Handle HandleFunc
	// Poll is how often the latest height is polled when no tick arrives
	// (default 2s). Ticks make the follower react within milliseconds.
	Poll time.Duration
	Log  *slog.Logger
	// OnError, if set, observes every transient error (for metrics).
	OnError func(error)
	// FromEarliest makes Start a lower bound for a follower that has handled nothing yet: if
	// the Source (an EarliestSource) has no blocks before a later height, it starts there.
	// Only a fresh sidecar sets it: a sidecar that handled heights must see every next one,
	// so a gap is an error it retries, never skips.
	FromEarliest bool
}

// Run follows until ctx ends; transient errors (node down, reconnecting) are
// logged and retried with backoff, never skipped over.
func (f *Follower) Run(ctx context.Context) error {
	if f.Handle == nil || f.Source == nil {
		return errors.New("follower: Source and Handle are required")
	}
	poll := f.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	log := f.Log
	if log == nil {
		log = slog.Default()
	}
	next := f.Start
	if next < 1 {
		next = 1
	}
	backoff := 100 * time.Millisecond
	fail := func(err error) error {
		if f.OnError != nil {
			f.OnError(err)
		}
		log.Warn("follow: retrying", "height", next, "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, 10*time.Second)
		return nil
	}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		latest, err := f.Source.LatestHeight(ctx)
		if err != nil {
			if err := fail(fmt.Errorf("latest height: %w", err)); err != nil {
				return err
			}
			continue
		}
		if f.FromEarliest && next <= latest {
			if es, ok := f.Source.(EarliestSource); ok {
				earliest, err := es.EarliestHeight(ctx)
				if err != nil {
					if err := fail(fmt.Errorf("earliest height: %w", err)); err != nil {
						return err
					}
					continue
				}
				switch {
				case earliest < 1:
					latest = 0 // no block stored yet: wait for one
				case earliest > next:
					log.Info("follow: the node has no blocks before its earliest (it joined by state sync): starting there",
						"earliest", earliest, "wanted", next)
					next = earliest
				}
				f.FromEarliest = earliest < 1
			} else {
				f.FromEarliest = false
			}
		}
		caughtUp := true
		for next <= latest {
			evs, err := f.Source.Events(ctx, next)
			if err == nil {
				err = f.Handle(ctx, next, evs)
			}
			if err != nil {
				caughtUp = false
				if err := fail(fmt.Errorf("height %d: %w", next, err)); err != nil {
					return err
				}
				break
			}
			backoff = 100 * time.Millisecond
			next++
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if !caughtUp {
			continue
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-f.Source.Ticks():
		case <-t.C:
		}
		t.Stop()
	}
}

// CometSource is a BlockSource over a CometBFT RPC endpoint: HTTP for block
// results and the websocket for NewBlock ticks. The websocket reconnects by
// itself (and resubscribes); when it stays silent while blocks advance, it is
// recreated from scratch.
type CometSource struct {
	remote string
	log    *slog.Logger
	rpc    *rpchttp.HTTP

	ticks chan int64

	mu       sync.Mutex
	lastTick time.Time
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// reconnected, if set, is called for each websocket recreated after
	// the first one (metrics).
	reconnected func()
}

// NewCometSource connects to a CometBFT RPC address such as
// "tcp://127.0.0.1:26657". The websocket is started in the background;
// reconnected (may be nil) is called whenever it has to be recreated.
func NewCometSource(remote string, log *slog.Logger, reconnected func()) (*CometSource, error) {
	if log == nil {
		log = slog.Default()
	}
	c, err := rpchttp.New(remote, "/websocket")
	if err != nil {
		return nil, fmt.Errorf("cometbft rpc %s: %w", remote, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &CometSource{remote: remote, log: log, rpc: c, ticks: make(chan int64, 1), cancel: cancel, reconnected: reconnected}
	s.wg.Add(1)
	go s.wsLoop(ctx)
	return s, nil
}

// RPC exposes the HTTP client (status, broadcast).
func (s *CometSource) RPC() *rpchttp.HTTP { return s.rpc }

// LatestHeight implements BlockSource.
func (s *CometSource) LatestHeight(ctx context.Context) (int64, error) {
	st, err := s.rpc.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("cometbft status at %s: %w", s.remote, err)
	}
	return st.SyncInfo.LatestBlockHeight, nil
}

// EarliestHeight implements EarliestSource: the node's oldest block (1, or after a state
// sync the first block after its snapshot; 0 while it has none yet).
func (s *CometSource) EarliestHeight(ctx context.Context) (int64, error) {
	st, err := s.rpc.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("cometbft status at %s: %w", s.remote, err)
	}
	return st.SyncInfo.EarliestBlockHeight, nil
}

// Events implements BlockSource: events of successful transactions (a
// failed transaction's events were reverted) and of FinalizeBlock.
func (s *CometSource) Events(ctx context.Context, h int64) ([]abci.Event, error) {
	res, err := s.rpc.BlockResults(ctx, &h)
	if err != nil {
		return nil, fmt.Errorf("block results %d: %w", h, err)
	}
	var out []abci.Event
	for _, tx := range res.TxsResults {
		if tx == nil || tx.Code != abci.CodeTypeOK {
			continue
		}
		out = append(out, tx.Events...)
	}
	out = append(out, res.FinalizeBlockEvents...)
	return out, nil
}

// Ticks implements BlockSource.
func (s *CometSource) Ticks() <-chan int64 { return s.ticks }

// Close stops the websocket.
func (s *CometSource) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// wsLoop keeps one websocket subscription to NewBlock alive. It starts a
// fresh client when none works or when it has said nothing for wsSilence
// (cometbft's client gives up after its reconnect attempts and then stays
// quiet forever).
func (s *CometSource) wsLoop(ctx context.Context) {
	defer s.wg.Done()
	const wsSilence = 15 * time.Second
	first := true
	for ctx.Err() == nil {
		if !first && s.reconnected != nil {
			s.reconnected()
		}
		first = false
		ch, ws, err := s.subscribe(ctx)
		if err != nil {
			s.log.Debug("websocket subscribe failed", "remote", s.remote, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
			continue
		}
		s.mu.Lock()
		s.lastTick = time.Now()
		s.mu.Unlock()
		check := time.NewTicker(wsSilence / 3)
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case ev := <-ch:
				var h int64
				if nb, ok := ev.Data.(cmttypes.EventDataNewBlock); ok && nb.Block != nil {
					h = nb.Block.Height
				}
				s.mu.Lock()
				s.lastTick = time.Now()
				s.mu.Unlock()
				select {
				case s.ticks <- h:
				default: // a tick is pending already: the follower reads all heights anyway
				}
			case <-check.C:
				s.mu.Lock()
				silent := time.Since(s.lastTick)
				s.mu.Unlock()
				if silent > wsSilence {
					s.log.Info("websocket silent, reconnecting", "remote", s.remote, "silent", silent.Round(time.Second))
					break loop
				}
			}
		}
		check.Stop()
		_ = ws.Stop()
	}
}

func (s *CometSource) subscribe(ctx context.Context) (<-chan ctypes.ResultEvent, *rpchttp.HTTP, error) {
	ws, err := rpchttp.New(s.remote, "/websocket")
	if err != nil {
		return nil, nil, err
	}
	if err := ws.Start(); err != nil {
		return nil, nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ch, err := ws.Subscribe(sctx, "buildchain-sidecar", cmttypes.QueryForEvent(cmttypes.EventNewBlock).String(), 16)
	if err != nil {
		_ = ws.Stop()
		return nil, nil, err
	}
	return ch, ws, nil
}
