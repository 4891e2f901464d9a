package p2p

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/ipfs/boxo/verifcid"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// ErrBlockMismatch is returned for a block whose bytes do not hash to its CID.
var ErrBlockMismatch = errors.New("block bytes do not match their CID")

// VerifyBlock checks that data hashes to c with c's own hash function and
// that the function is one we accept (boxo's verifcid allowlist: no weak or
// truncated hashes). Every block received from a peer passes here before it
// is stored.
func VerifyBlock(c cid.Cid, data []byte) error {
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, c); err != nil {
		return fmt.Errorf("block %s: %w", c, err)
	}
	got, err := c.Prefix().Sum(data)
	if err != nil {
		return fmt.Errorf("hash block %s: %w", c, err)
	}
	if !got.Equals(c) {
		return fmt.Errorf("%w: want %s, bytes hash to %s", ErrBlockMismatch, c, got)
	}
	return nil
}

// FetchStats describes a finished closure fetch.
type FetchStats struct {
	Blocks       int   // blocks in the closure
	Fetched      int   // of which came from peers
	FetchedBytes int64 // bytes that came from peers
}

// Fetch makes the whole closure of root local: every block reachable from it
// through IPLD links (and Config.ExtraLinks) ends up in the blockstore,
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

	rootLocal, err := n.isLocal(ctx, root)
	if err != nil {
		return st, err
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

	request := func(cids []cid.Cid) error {
		ch, err := sess.GetBlocks(ctx, cids)
		if err != nil {
			return fmt.Errorf("p2p: request %d blocks: %w", len(cids), err)
		}
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
		return nil
	}

	seen := map[cid.Cid]struct{}{root: {}}
	pending := 1 // seen but not yet walked
	var queue []walkTask
	if rootLocal {
		queue = append(queue, walkTask{c: root})
	} else if err := request([]cid.Cid{root}); err != nil {
		return st, err
	}

	for pending > 0 {
		var sendCh chan walkTask
		var next walkTask
		if len(queue) > 0 {
			sendCh, next = tasks, queue[0]
		}
		select {
		case sendCh <- next:
			queue = queue[1:]
		case b := <-fromNet:
			queue = append(queue, walkTask{c: b.Cid(), blk: b})
		case r := <-results:
			if r.err != nil {
				return st, r.err
			}
			pending--
			st.Blocks++
			if r.fetched {
				st.Fetched++
				st.FetchedBytes += int64(r.size)
			}
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
			if progress != nil {
				progress(st.Blocks, len(seen))
			}
		case <-ctx.Done():
			return st, fmt.Errorf("p2p: fetch %s: %d of %d known blocks done: %w", root, st.Blocks, len(seen), ctx.Err())
		}
	}

	// We now hold the closure: tell the DHT, in the background and best
	// effort (a node without DHT peers still fetched successfully).
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		pctx, cancel := context.WithTimeout(n.ctx, provideTimeout)
		defer cancel()
		if err := n.Provide(pctx, root); err != nil {
			n.log.Debug("provide fetched root", "cid", root, "err", err)
		}
	}()
	return st, nil
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
	fetched  bool
	size     int
	err      error
}

// walkOne verifies and stores a received block (or reads a local one),
// extracts its links and checks which children are already local.
func (n *Node) walkOne(ctx context.Context, t walkTask) walkResult {
	r := walkResult{c: t.c}
	var data []byte
	switch {
	case t.blk != nil:
		data = t.blk.RawData()
		if err := VerifyBlock(t.c, data); err != nil {
			r.err = fmt.Errorf("p2p: rejected block from network: %w", err)
			return r
		}
		if err := n.bstore.Put(ctx, t.blk); err != nil {
			r.err = fmt.Errorf("p2p: store fetched block %s: %w", t.c, err)
			return r
		}
		// Peers that asked us for this block while we were fetching it
		// can have it now.
		if err := n.bswap.Server.NotifyNewBlocks(ctx, t.blk); err != nil {
			n.log.Debug("notify bitswap server", "cid", t.c, "err", err)
		}
		r.fetched, r.size = true, len(data)
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

	links, err := Links(t.c, data)
	if err != nil {
		r.err = fmt.Errorf("p2p: walk: %w", err)
		return r
	}
	if n.cfg.ExtraLinks != nil {
		more, err := n.cfg.ExtraLinks(t.c, data)
		if err != nil {
			r.err = fmt.Errorf("p2p: walk: extra links of %s: %w", t.c, err)
			return r
		}
		links = append(links, more...)
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
