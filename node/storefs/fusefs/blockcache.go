package fusefs

import (
	"container/list"
	"sync"

	"github.com/ipfs/go-cid"
)

// blockCacheBytes bounds the verified blocks a mount keeps (the buffers of
// blocks being read or handed to the kernel come on top, at most one per
// request in flight and readahead worker).
const blockCacheBytes = 32 << 20

// maxFreeBufs bounds the recycled buffers kept besides the cached blocks
// (4 MiB): a load normally takes the buffer an eviction just freed.
const maxFreeBufs = 16

// blockBufSize is the buffer every block is first read into: a 256 KiB
// leaf (our and kubo's chunk size) with room for dag-pb framing and a
// mode. A larger block gets a buffer of its own size, not recycled.
const blockBufSize = 256<<10 + 4<<10

// blockCache keeps the last verified leaf blocks of the whole mount, up to
// blockCacheBytes: the kernel may read a leaf in several requests, and
// readahead (fileNode.readahead) puts the next leaves of a sequential read
// here before the kernel asks. Each block is read and hash-checked once,
// whoever asks first (readers and readahead wait for a load in progress);
// a failed load is not kept, so every reader of a corrupted block gets its
// own error and its bytes are never served. Entries are reference-counted:
// a reader holds one while it copies the bytes or while go-fuse writes
// them to the kernel, and a buffer is reused only once no one holds it.
type blockCache struct {
	mu      sync.Mutex
	entries map[cid.Cid]*cachedBlock
	lru     list.List // of *cachedBlock, least recently used first
	bytes   int
	max     int
	free    [][]byte
}

type cachedBlock struct {
	c      cid.Cid
	done   chan struct{} // closed when the load ended
	buf    []byte        // the block as read (data points into it)
	data   []byte        // the file bytes the block carries
	err    error
	refs   int
	cached bool // in entries and lru
	elem   *list.Element
}

func newBlockCache(max int) *blockCache {
	return &blockCache{entries: map[cid.Cid]*cachedBlock{}, max: max}
}

// acquire returns the verified file bytes of block c, loading them with
// load (into a buffer it may use) unless they are cached or being loaded.
// The caller must release the entry once it no longer uses its data.
func (bc *blockCache) acquire(c cid.Cid, load func(buf []byte) (blk, data []byte, err error)) (*cachedBlock, error) {
	bc.mu.Lock()
	if e, ok := bc.entries[c]; ok {
		e.refs++
		if e.elem != nil {
			bc.lru.MoveToBack(e.elem)
		}
		bc.mu.Unlock()
		<-e.done
		if e.err != nil {
			bc.release(e)
			return nil, e.err
		}
		return e, nil
	}
	e := &cachedBlock{c: c, done: make(chan struct{}), refs: 1, cached: true}
	bc.entries[c] = e
	var buf []byte
	if n := len(bc.free); n > 0 {
		buf, bc.free = bc.free[n-1], bc.free[:n-1]
	} else {
		buf = make([]byte, blockBufSize)
	}
	bc.mu.Unlock()

	blk, data, err := load(buf)
	bc.mu.Lock()
	e.buf, e.data, e.err = blk, data, err
	if cap(blk) != blockBufSize {
		bc.recycleLocked(buf) // the block did not fit, or failed: buf is unused
	}
	if err != nil {
		delete(bc.entries, c)
		e.cached = false
	} else {
		e.elem = bc.lru.PushBack(e)
		bc.bytes += cap(blk)
		for bc.bytes > bc.max && bc.lru.Len() > 1 {
			old := bc.lru.Remove(bc.lru.Front()).(*cachedBlock)
			old.elem = nil
			old.cached = false
			delete(bc.entries, old.c)
			bc.bytes -= cap(old.buf)
			if old.refs == 0 {
				bc.recycleLocked(old.buf)
				old.buf, old.data = nil, nil
			} // else release recycles it
		}
	}
	bc.mu.Unlock()
	close(e.done)
	if err != nil {
		bc.release(e)
		return nil, err
	}
	return e, nil
}

// release drops a reference taken by acquire.
func (bc *blockCache) release(e *cachedBlock) {
	bc.mu.Lock()
	e.refs--
	if e.refs == 0 && !e.cached && e.buf != nil {
		// Evicted while in use, or failed: the buffer is free again.
		bc.recycleLocked(e.buf)
		e.buf, e.data = nil, nil
	}
	bc.mu.Unlock()
}

func (bc *blockCache) recycleLocked(b []byte) {
	if cap(b) == blockBufSize && len(bc.free) < maxFreeBufs {
		bc.free = append(bc.free, b[:cap(b)])
	}
}

// has reports whether c is cached or being loaded.
func (bc *blockCache) has(c cid.Cid) bool {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	_, ok := bc.entries[c]
	return ok
}
