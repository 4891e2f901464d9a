package p2p

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/verifcid"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	mh "github.com/multiformats/go-multihash"

	"github.com/buildchain/buildchain/node/block"
)

// FetchStats describes a finished closure fetch.
type FetchStats struct {
	Blocks       int     // blocks in the closure
	Fetched      int     // of which came from peers
	FetchedBytes int64   // bytes that came from peers
	Streamed     int     // of Fetched, came over closure streams (the rest over bitswap)
	Dropped      []error // peers dropped for bad blocks while the fetch ran, on any path (each error names one, wraps ErrBadPeer)
}

// Fetch makes the whole closure of root local: every block reachable from it
// through the links Config.Links names ends up in the blockstore,
// hash-checked. progress, if not nil, is called from one goroutine after each
// block with the blocks done and the blocks known so far (the total grows as
// the walk discovers the DAG; done == total at the end). Fetch waits for
// missing blocks until ctx ends.
func (n *Node) Fetch(ctx context.Context, root cid.Cid, progress func(done, total int)) error {
	_, err := n.FetchClosure(ctx, root, progress)
	return err
}

// FetchClosure is Fetch returning statistics.
//
// The walk is pipelined to need few round trips: all blocks share one bitswap
// session (which learns which peers have the DAG and asks them directly), and
// as soon as a block arrives all its missing children are requested in one
// batch, so a DAG of depth d takes about d round trips whatever its width.
// Hashing, storing and decoding run on a worker pool; blocks already local are
// read and walked too, so a partial closure is completed.
func (n *Node) FetchClosure(ctx context.Context, root cid.Cid, progress func(done, total int)) (FetchStats, error) {
	var st FetchStats
	if !root.Defined() {
		return st, errors.New("p2p: fetch: undefined CID")
	}
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, root); err != nil {
		return st, fmt.Errorf("p2p: fetch %s: %w", root, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()

	// Peers dropped for bad blocks while this fetch runs (on any path).
	dropMark := n.dropMark()
	rootLocal, err := n.isLocal(ctx, root)
	if err != nil {
		return st, err
	}
	// A closure we do not have yet comes fastest as closure streams from
	// buildchain peers; bitswap then completes whatever they did not
	// bring (and is the only path for IPFS peers and partial closures).
	if !rootLocal && !n.cfg.NoCARStream {
		cr, err := n.fetchCAR(ctx, root, progress)
		if err != nil {
			return st, errors.Join(append([]error{fmt.Errorf("p2p: fetch %s: %w", root, err)}, cr.peerErrs...)...)
		}
		st.Dropped = n.dropsSince(dropMark)
		st.Streamed = cr.stats.Fetched
		if cr.complete {
			st.Blocks, st.Fetched, st.FetchedBytes = cr.stats.Blocks, cr.stats.Fetched, cr.stats.FetchedBytes
			n.provideInBackground(root)
			return st, nil
		}
		st.Fetched, st.FetchedBytes = cr.stats.Fetched, cr.stats.FetchedBytes
		rootLocal, err = n.isLocal(ctx, root)
		if err != nil {
			return st, err
		}
	}
	if !rootLocal {
		bg.Add(1)
		go func() {
			defer bg.Done()
			n.connectProviders(ctx, root)
		}()
	}
	sess := n.bswap.NewSession(ctx)

	tasks := make(chan walkTask)
	results := make(chan walkResult)
	fromNet := make(chan blocks.Block, 64)
	writes := make(chan []blocks.Block)
	stored := make(chan storeResult)
	workers := min(max(runtime.GOMAXPROCS(0)*2, 4), 16)
	for range workers {
		bg.Add(1)
		go func() {
			defer bg.Done()
			for t := range tasks {
				r := n.walkOne(ctx, t)
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	defer close(tasks)
	bg.Add(1)
	go func() {
		defer bg.Done()
		n.storeBlocks(ctx, writes, stored)
	}()
	defer close(writes)

	// Wants go out in chunks with at most maxInflight outstanding: a bitswap
	// server keeps only so many queued wants per peer (boxo: 1024) and
	// silently drops the rest, which stalls a wide DAG (thousands of small
	// files) until a rebroadcast. A block counts against the window until
	// it is stored, not just until it arrives, and the window shrinks to
	// about fetchBudget bytes of the blocks seen so far: when peers send
	// faster than the disk writes, received blocks would otherwise pile up
	// in memory (a 1 GiB closure took the process to 532 MiB of RSS).
	var w wantWindow
	inflight := 0           // requested from peers, not yet arrived
	held := 0               // arrived, not yet stored
	var wantQueue []cid.Cid // missing blocks not yet requested
	pump := func() error {
		for len(wantQueue) > 0 && inflight+held < w.limit() {
			k := min(len(wantQueue), w.limit()-inflight-held)
			cids := wantQueue[:k:k]
			wantQueue = wantQueue[k:]
			ch, err := sess.GetBlocks(ctx, cids)
			if err != nil {
				return fmt.Errorf("p2p: request %d blocks: %w", len(cids), err)
			}
			inflight += len(cids)
			bg.Add(1)
			go func() {
				defer bg.Done()
				for b := range ch {
					select {
					case fromNet <- b:
					case <-ctx.Done():
						return
					}
				}
			}()
		}
		return nil
	}
	request := func(cids []cid.Cid) error {
		wantQueue = append(wantQueue, cids...)
		return pump()
	}

	seen := map[cid.Cid]struct{}{root: {}}
	pending := 1               // seen but not yet walked and stored
	var queue []walkTask       // blocks to verify/read and decode
	var toStore []blocks.Block // verified blocks from peers, for the writer
	if rootLocal {
		queue = append(queue, walkTask{c: root})
	} else if err := request([]cid.Cid{root}); err != nil {
		return st, err
	}
	// Stall recovery, see kickPeers.
	lastProgress := time.Now()
	kickAfter := stallKickAfter
	stallCheck := time.NewTicker(stallKickAfter / 4)
	defer stallCheck.Stop()

	done := func() {
		pending--
		st.Blocks++
		if progress != nil {
			progress(st.Blocks, len(seen))
		}
	}

	for pending > 0 {
		var taskCh chan walkTask
		var nextTask walkTask
		if len(queue) > 0 {
			taskCh, nextTask = tasks, queue[0]
		}
		// The writer takes everything verified so far in one go: while it
		// writes a batch, the next one accumulates.
		var writeCh chan []blocks.Block
		if len(toStore) > 0 {
			writeCh = writes
		}
		select {
		case taskCh <- nextTask:
			queue = queue[1:]
		case writeCh <- toStore:
			toStore = nil
		case b := <-fromNet:
			inflight--
			held++
			w.received(len(b.RawData()))
			lastProgress, kickAfter = time.Now(), stallKickAfter
			queue = append(queue, walkTask{c: b.Cid(), blk: b})
			if err := pump(); err != nil {
				return st, err
			}
		case <-stallCheck.C:
			if inflight > 0 && time.Since(lastProgress) > kickAfter {
				n.kickPeers()
				lastProgress = time.Now()
				kickAfter = min(kickAfter*2, maxStallKickAfter)
			}
		case r := <-results:
			if r.err != nil {
				return st, r.err
			}
			// Request the children first: the next round trip starts
			// while this block is still being written.
			var missing []cid.Cid
			for _, ch := range r.children {
				if _, ok := seen[ch.c]; ok {
					continue
				}
				seen[ch.c] = struct{}{}
				pending++
				if ch.local {
					queue = append(queue, walkTask{c: ch.c})
				} else {
					missing = append(missing, ch.c)
				}
			}
			if len(missing) > 0 {
				if err := request(missing); err != nil {
					return st, err
				}
			}
			if r.fetched != nil {
				toStore = append(toStore, r.fetched)
			} else {
				done()
			}
		case s := <-stored:
			if s.err != nil {
				return st, s.err
			}
			for range s.n {
				st.Fetched++
				done()
			}
			held -= s.n
			st.FetchedBytes += s.bytes
			if err := pump(); err != nil {
				return st, err
			}
		case <-ctx.Done():
			st.Dropped = n.dropsSince(dropMark)
			return st, errors.Join(append([]error{fmt.Errorf("p2p: fetch %s: %d of %d known blocks done: %w", root, st.Blocks, len(seen), ctx.Err())}, st.Dropped...)...)
		}
	}
	st.Dropped = n.dropsSince(dropMark)
	n.provideInBackground(root)
	return st, nil
}

// provideInBackground tells the DHT we now hold the closure of root, best
// effort (a node without DHT peers still fetched successfully).
func (n *Node) provideInBackground(root cid.Cid) {
	if n.ctx.Err() != nil {
		return // closing: no new background work
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		pctx, cancel := context.WithTimeout(n.ctx, provideTimeout)
		defer cancel()
		if err := n.Provide(pctx, root); err != nil {
			n.log.Debug("provide fetched root", "cid", root, "err", err)
		}
	}()
}

// fetchBudget bounds the bytes a bitswap fetch has requested or received
// but not stored (with the first wants, before any block size is known, up
// to maxInflight blocks); a variable for the test that checks it.
var fetchBudget = 32 << 20

// wantWindow sizes a bitswap fetch's window: how many blocks may be
// requested or received but not yet stored. It starts at maxInflight (a
// wide DAG of small blocks needs many wants out) and, once blocks arrive,
// holds about fetchBudget bytes of blocks of the average size seen, never
// fewer than minInflight.
type wantWindow struct {
	blocks int
	bytes  int64
}

func (w *wantWindow) received(size int) {
	w.blocks++
	w.bytes += int64(size)
}

func (w *wantWindow) limit() int {
	if w.blocks == 0 || w.bytes == 0 {
		return maxInflight
	}
	avg := max(1, w.bytes/int64(w.blocks))
	return int(min(maxInflight, max(minInflight, int64(fetchBudget)/avg)))
}

const (
	// maxInflight bounds the wants of one fetch outstanding at once.
	maxInflight = 512
	// minInflight keeps a few round trips' worth of large blocks wanted.
	minInflight = 16

	stallKickAfter    = 3 * time.Second
	maxStallKickAfter = 30 * time.Second
)

// kickPeers resets the bitswap client's per-peer want state for every
// connected bitswap peer, as if the peer had disconnected and reconnected,
// so that every session re-sends its wants to it.
//
// Why: boxo v0.43's client can keep a stale "already sent" want for a peer
// when a session ends while its last wants are still in flight (the want is
// re-sent after the cancel and never cancelled again). A later session that
// wants the same CID from that peer then never sends it, and the fetch hangs
// until the message queue's 30 s rebroadcast, if at all. Seen in
// TestFetchThreeNodesSplitDAG when a node re-fetches blocks it had fetched and
// then deleted. Only the client side is reset: the peer's wants from us
// (server side) are untouched.
func (n *Node) kickPeers() {
	for _, p := range n.host.Network().Peers() {
		if n.host.Network().Connectedness(p) != network.Connected {
			continue
		}
		if ok, _ := n.host.Peerstore().SupportsProtocols(p, bsnet.ProtocolBitswap, bsnet.ProtocolBitswapOneOne, bsnet.ProtocolBitswapOneZero, bsnet.ProtocolBitswapNoVers); len(ok) == 0 {
			continue
		}
		n.log.Debug("bitswap stalled: re-sending wants", "peer", p)
		n.bswap.Client.PeerDisconnected(p)
		n.bswap.Client.PeerConnected(p)
	}
}

type walkTask struct {
	c   cid.Cid
	blk blocks.Block // nil: read from the local store
}

type walkChild struct {
	c     cid.Cid
	local bool
}

type walkResult struct {
	c        cid.Cid
	children []walkChild
	fetched  blocks.Block // a block.Checked from a peer, still to be stored; nil if none
	err      error
}

type storeResult struct {
	n     int
	bytes int64
	err   error
}

// maxWriteBatch bounds one PutMany: batching lets the store pay its
// per-write costs (directory fsync, refs-index transaction) once per batch
// rather than once per block.
const maxWriteBatch = 256

// storeBlocks writes batches of verified blocks, tells the bitswap server
// about them (peers that asked us for a block while we were fetching it can
// have it now) and reports each batch.
func (n *Node) storeBlocks(ctx context.Context, in <-chan []blocks.Block, out chan<- storeResult) {
	for all := range in {
		for len(all) > 0 {
			batch := all[:min(len(all), maxWriteBatch)]
			all = all[len(batch):]
			res := storeResult{n: len(batch)}
			for _, b := range batch {
				res.bytes += int64(len(b.RawData()))
			}
			if err := n.bstore.PutMany(ctx, batch); err != nil {
				res.err = fmt.Errorf("p2p: store %d fetched blocks: %w", len(batch), err)
			} else if err := n.bswap.Server.NotifyNewBlocks(ctx, batch...); err != nil {
				n.log.Debug("notify bitswap server", "err", err)
			}
			select {
			case out <- res:
			case <-ctx.Done():
				return
			}
			if res.err != nil {
				return
			}
		}
	}
}

// walkOne verifies a received block (or reads a local one), extracts its
// links and checks which children are already local. Verified blocks go back
// to the fetch loop, which hands them to storeBlocks.
func (n *Node) walkOne(ctx context.Context, t walkTask) walkResult {
	r := walkResult{c: t.c}
	var data []byte
	switch {
	case t.blk != nil:
		data = t.blk.RawData()
		// The one hash of a received block: the store takes the
		// block.Checked without hashing it again.
		chk, err := block.Check(t.c, data)
		if err != nil {
			r.err = fmt.Errorf("p2p: rejected block from network: %w", err)
			return r
		}
		r.fetched = chk
	case isIdentity(t.c):
		dm, err := mh.Decode(t.c.Hash())
		if err != nil {
			r.err = fmt.Errorf("p2p: decode identity CID %s: %w", t.c, err)
			return r
		}
		data = dm.Digest
	default:
		b, err := n.bstore.Get(ctx, t.c)
		if err != nil {
			r.err = fmt.Errorf("p2p: read local block %s: %w", t.c, err)
			return r
		}
		data = b.RawData()
	}

	links, err := n.blockLinks(t.c, data)
	if err != nil {
		r.err = fmt.Errorf("p2p: walk: %w", err)
		return r
	}
	r.children = make([]walkChild, 0, len(links))
	for _, l := range links {
		if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, l); err != nil {
			r.err = fmt.Errorf("p2p: walk: block %s links to %s: %w", t.c, l, err)
			return r
		}
		local, err := n.isLocal(ctx, l)
		if err != nil {
			r.err = err
			return r
		}
		r.children = append(r.children, walkChild{c: l, local: local})
	}
	return r
}

func (n *Node) isLocal(ctx context.Context, c cid.Cid) (bool, error) {
	if isIdentity(c) {
		return true, nil
	}
	has, err := n.bstore.Has(ctx, c)
	if err != nil {
		return false, fmt.Errorf("p2p: check local store for %s: %w", c, err)
	}
	return has, nil
}

func isIdentity(c cid.Cid) bool { return c.Prefix().MhType == mh.IDENTITY }
