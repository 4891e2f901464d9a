package p2p

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/buildchain/buildchain/node/block"
	nodeclosure "github.com/buildchain/buildchain/node/closure"
	"github.com/buildchain/buildchain/node/p2p/carstream"
)

const (
	// maxCARParts is how many peers at most serve one closure in
	// parallel, each a part of its data blocks (carstream).
	maxCARParts = 3
	// maxCARPeers bounds the peers asked at all (the others wait as
	// stand-ins for parts whose peer fails).
	maxCARPeers = 8
	// budgetUnit is the granularity of carBudget.
	budgetUnit = 64 << 10
	// carBatch is the most the writer puts in one PutMany (one durable
	// commit in storefs).
	carBatch = 32 << 20
	// carCommit is how many bytes a store batch collects before it is
	// committed (made visible; it is made durable every 64 MiB as it goes).
	carCommit = 256 << 20
	// badPeerFor is how long a peer that sent a bad block is not asked
	// for closures again.
	badPeerFor = time.Hour
)

// carBudget bounds the bytes of verified blocks waiting for the writer,
// whatever the closure's size (a variable for the test that checks it).
var carBudget = 64 << 20

// ErrBadPeer wraps the error of a peer that sent a block failing its hash
// or not part of the DAG asked for; it was disconnected.
var ErrBadPeer = errors.New("peer dropped for sending a bad block")

// blockLinks is the closure walk's one definition of a block's references:
// Config.Links (the node's closure walker), else its IPLD links. The bitswap
// walk uses it; closure streams use streamLinks and carFetchLinks.
func (n *Node) blockLinks(c cid.Cid, data []byte) ([]cid.Cid, error) {
	if n.cfg.Links != nil {
		return n.cfg.Links(c, data)
	}
	return block.Links(c, data)
}

// streamLinks is what a closure stream carries, on both ends: the links a
// block's own bytes name (IPLD links and derivation inputs, node/closure's
// Walker without runtime references). Runtime references are recorded by
// each node for itself (node/storefs references/, when a store path is
// built or first scanned), so a node fetching a store path has none for it
// yet: had the server followed its own, the fetcher would meet blocks it
// cannot place in the DAG and drop an honest peer (the gcc toolchain names
// the bootstrap busybox by its store path and was refused that way). The
// fetcher records a fetched path's references itself and fetches them as
// closures of their own (node/runtime/fetch.go).
func streamLinks(c cid.Cid, data []byte) ([]cid.Cid, error) {
	return nodeclosure.Walker{}.Children(c, data)
}

// carFetchLinks is the fetching end's link function: what a stream may carry
// (streamLinks) plus this node's own walker (Config.Links: references it
// has recorded), whose children the fetch must make local too. Its links
// are a superset of any honest server's, so the stream's "linked from an
// accepted block" check holds for every block such a server sends.
func (n *Node) carFetchLinks(c cid.Cid, data []byte) ([]cid.Cid, error) {
	out, err := streamLinks(c, data)
	if err != nil || n.cfg.Links == nil {
		return out, err
	}
	more, err := n.cfg.Links(c, data)
	return append(out, more...), err
}

// startCARServer serves closure streams from the blockstore.
func (n *Node) startCARServer() {
	srv := &carstream.Server{Blocks: n.bstore, Links: streamLinks, Log: n.log}
	n.host.SetStreamHandler(carstream.ProtocolID, srv.Handle)
}

// carCandidates lists connected peers to ask for closure streams.
func (n *Node) carCandidates() []peer.ID {
	var out []peer.ID
	for _, p := range n.host.Network().Peers() {
		if len(out) == maxCARPeers {
			break
		}
		if n.host.Network().Connectedness(p) != network.Connected || n.isBad(p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// carResult is what fetchCAR achieved.
type carResult struct {
	stats    FetchStats
	complete bool    // every block of the closure is now local
	peerErrs []error // peers dropped for bad blocks
}

// fetchCAR fetches the closure of root (not local yet) over closure streams
// from the connected peers, the data split in parts between up to
// maxCARParts of them. Every block is verified by carstream.Fetch, stored
// durably in batches, and at most carBudget bytes wait for the writer. A
// part whose peer fails goes to another peer; a peer that sends a bad block
// is dropped. What is still missing at the end (gaps, no capable peer) is
// left to the bitswap walk: complete says whether anything is.
func (n *Node) fetchCAR(ctx context.Context, root cid.Cid, progress func(done, total int)) (carResult, error) {
	var res carResult
	peers := n.carCandidates()
	if len(peers) == 0 {
		return res, nil
	}
	parts := min(len(peers), maxCARParts)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		needed   = map[cid.Cid]struct{}{root: {}} // every block seen linked
		have     = map[cid.Cid]struct{}{}         // stored, queued or found local
		partDone = make([]bool, parts)
		nDone    int
	)
	budget := make(chan struct{}, carBudget/budgetUnit)
	units := func(b block.Checked) int { return (len(b.RawData()) + budgetUnit - 1) / budgetUnit }
	writes := make(chan carstream.Verified, 256)
	allDone := make(chan struct{})
	queue := make(chan int, parts) // parts whose peer failed

	// put runs on the stream goroutines: record the links, skip blocks
	// already had, and queue the rest for the writer within the budget.
	put := func(v carstream.Verified) error {
		c := v.Block.Cid()
		mu.Lock()
		for _, l := range v.Links {
			needed[l] = struct{}{}
		}
		_, dup := have[c]
		have[c] = struct{}{}
		mu.Unlock()
		if dup || isIdentity(c) {
			v.Release()
			return nil
		}
		if local, err := n.bstore.Has(ctx, c); err != nil {
			v.Release()
			return fmt.Errorf("p2p: check local store for %s: %w", c, err)
		} else if local {
			v.Release()
			return nil
		}
		for range units(v.Block) {
			select {
			case budget <- struct{}{}:
			case <-ctx.Done():
				v.Release()
				return ctx.Err()
			}
		}
		select {
		case writes <- v:
			return nil
		case <-ctx.Done():
			v.Release()
			return ctx.Err()
		}
	}

	// The writer reports each stored run of blocks here.
	stored := func(bs []blocks.Block, size int64) {
		if err := n.bswap.Server.NotifyNewBlocks(ctx, bs...); err != nil {
			n.log.Debug("notify bitswap server", "err", err)
		}
		res.stats.FetchedBytes += size
		for range bs {
			res.stats.Fetched++
			if progress != nil {
				mu.Lock()
				total := len(needed)
				mu.Unlock()
				progress(res.stats.Fetched, total)
			}
		}
	}
	release := func(b block.Checked) {
		for range units(b) {
			<-budget
		}
	}
	var werr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if bs, ok := n.bstore.(batchingStore); ok {
			werr = writeBatched(ctx, bs, writes, release, stored)
		} else {
			werr = writePutMany(ctx, n.bstore, writes, release, stored)
		}
		if werr != nil {
			cancel()
		}
	}()

	// One worker per candidate peer: the first parts peers start with one
	// part each (a peer that is quick to start must not take a slower one's
	// part before it even asked: the data would not be split); then every
	// worker takes the parts whose peer failed from the queue until all are
	// done.
	var errMu sync.Mutex
	var workers sync.WaitGroup
	for i, p := range peers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for first := true; ; first = false {
				var k int
				if first && i < parts {
					k = i
				} else {
					select {
					case k = <-queue:
					case <-allDone:
						return
					case <-ctx.Done():
						return
					}
				}
				_, err := carstream.Fetch(ctx, n.host, p, carstream.Request{Root: root, Part: k, Parts: parts}, n.carFetchLinks, put)
				if err != nil {
					queue <- k
					if errors.Is(err, block.ErrCorrupt) || errors.Is(err, carstream.ErrUnexpectedBlock) {
						derr := n.dropPeer(p, err)
						errMu.Lock()
						res.peerErrs = append(res.peerErrs, derr)
						errMu.Unlock()
					} else if ctx.Err() == nil {
						n.log.Debug("closure stream failed", "peer", p, "root", root, "err", err)
					}
					return
				}
				mu.Lock()
				if !partDone[k] {
					partDone[k] = true
					nDone++
					if nDone == parts {
						close(allDone)
					}
				}
				mu.Unlock()
			}
		}()
	}
	workers.Wait()
	close(writes)
	wg.Wait()
	if werr != nil {
		return res, werr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// Complete when every block linked from a stored block is here.
	res.complete = true
	for c := range needed {
		if _, ok := have[c]; ok {
			continue
		}
		if local, err := n.isLocal(ctx, c); err != nil {
			return res, err
		} else if !local {
			res.complete = false
			break
		}
	}
	res.stats.Blocks = len(needed)
	if res.complete && progress != nil && res.stats.Fetched < res.stats.Blocks {
		progress(res.stats.Blocks, res.stats.Blocks) // the rest was local
	}
	return res, nil
}

// batchingStore is a blockstore that can store many checked blocks as one
// durable unit without hashing them again (storefs: one sync per 64 MiB
// instead of one per PutMany). The interface literal is identical to
// storefs.VerifiedBatch.
type batchingStore interface {
	NewVerifiedBatch() interface {
		Put(ctx context.Context, b block.Checked, written func()) error
		Commit() error
		Abort()
	}
}

// writeBatched stores the blocks from in through store batches committed
// every carCommit bytes (and at the end). Blocks become visible to readers
// and peers at each commit. It drains in even after a failure, so senders
// never block on it. Each block's buffer is released once it is written
// (the batch calls Release), its budget once the batch holds it.
func writeBatched(ctx context.Context, bs batchingStore, in <-chan carstream.Verified, release func(block.Checked), stored func([]blocks.Block, int64)) error {
	var err error
	batch := bs.NewVerifiedBatch()
	var pending []blocks.Block
	var size int64
	commit := func() {
		if err == nil {
			if err = batch.Commit(); err != nil {
				err = fmt.Errorf("p2p: store %d fetched blocks: %w", len(pending), err)
			} else {
				stored(pending, size)
			}
		}
		batch, pending, size = bs.NewVerifiedBatch(), nil, 0
	}
	for v := range in {
		b := v.Block
		if err == nil {
			if err = batch.Put(ctx, b, v.Release); err != nil {
				err = fmt.Errorf("p2p: store fetched block %s: %w", b.Cid(), err)
			} else {
				// Keep the CID only: the batch holds the bytes until written.
				cb, _ := blocks.NewBlockWithCid(nil, b.Cid())
				pending = append(pending, cb)
				size += int64(len(b.RawData()))
			}
		} else {
			v.Release()
		}
		release(b)
		if size >= carCommit {
			commit()
		}
	}
	if len(pending) > 0 {
		commit()
	}
	if err != nil {
		batch.Abort()
	}
	return err
}

// writePutMany stores the blocks from in with PutMany, everything queued
// so far in one call (up to carBatch bytes). It never releases a block's
// buffer (they are collected instead): stored hands the blocks themselves,
// bytes and all, to the bitswap server, which may still be sending them.
func writePutMany(ctx context.Context, bs blockstore.Blockstore, in <-chan carstream.Verified, release func(block.Checked), stored func([]blocks.Block, int64)) error {
	var err error
	for v := range in {
		batch, size := []blocks.Block{v.Block}, int64(len(v.Block.RawData()))
	more:
		for size < carBatch {
			select {
			case v, ok := <-in:
				if !ok {
					break more
				}
				batch = append(batch, v.Block)
				size += int64(len(v.Block.RawData()))
			default:
				break more
			}
		}
		if err == nil {
			if err = bs.PutMany(ctx, batch); err != nil {
				err = fmt.Errorf("p2p: store %d fetched blocks: %w", len(batch), err)
			} else {
				stored(batch, size)
			}
		}
		for _, b := range batch {
			release(b.(block.Checked))
		}
	}
	return err
}
