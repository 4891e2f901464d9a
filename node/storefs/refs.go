package storefs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	bolt "go.etcd.io/bbolt"
)

var refsBucket = []byte("refs")

// refsIndex maps each dag-pb block to its IPLD links (its "refs" in kubo's
// sense; the runtime references of node/closure are another thing, kept in
// references/). It is a cache of what
// the blocks themselves say (Closure falls back to decoding a block whose
// entry is missing), so losing it costs speed, never correctness.
//
// bbolt takes an exclusive flock on the file while open. Several processes
// use one store (the node, a CLI add, a GC), so the database is open only
// while some goroutine of this process needs it and closed when idle; other
// processes wait on the flock meanwhile.
type refsIndex struct {
	path  string
	mu    sync.Mutex
	db    *bolt.DB
	users int
}

func newRefsIndex(path string) *refsIndex { return &refsIndex{path: path} }

func (r *refsIndex) acquire() (*bolt.DB, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db == nil {
		db, err := bolt.Open(r.path, 0o644, &bolt.Options{Timeout: 5 * time.Minute, FreelistType: bolt.FreelistMapType})
		if err != nil {
			return nil, fmt.Errorf("open refs index %s: %w", r.path, err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(refsBucket)
			return err
		}); err != nil {
			db.Close()
			return nil, fmt.Errorf("init refs index: %w", err)
		}
		r.db = db
	}
	r.users++
	return r.db, nil
}

func (r *refsIndex) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users--
	if r.users == 0 && r.db != nil {
		_ = r.db.Close()
		r.db = nil
	}
}

func (r *refsIndex) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db != nil && r.users == 0 {
		err := r.db.Close()
		r.db = nil
		return err
	}
	return nil
}

func encodeRefs(children []cid.Cid) []byte {
	var out []byte
	for _, c := range children {
		b := c.Bytes()
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out
}

func decodeRefs(v []byte) ([]cid.Cid, error) {
	var out []cid.Cid
	for len(v) > 0 {
		n, k := binary.Uvarint(v)
		if k <= 0 || uint64(len(v)-k) < n {
			return nil, errors.New("malformed refs entry")
		}
		c, err := cid.Cast(v[k : k+int(n)])
		if err != nil {
			return nil, fmt.Errorf("malformed refs entry: %w", err)
		}
		out = append(out, c)
		v = v[k+int(n):]
	}
	return out, nil
}

func (r *refsIndex) put(entries []refEntry) error {
	db, err := r.acquire()
	if err != nil {
		return err
	}
	defer r.release()
	// Batch coalesces the transactions of concurrent adders into one fsync.
	err = db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(refsBucket)
		for _, e := range entries {
			if err := b.Put(e.c.Bytes(), encodeRefs(e.children)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write refs index: %w", err)
	}
	return nil
}

// blockChildren returns the children of block c by the store's Walker: the
// links of a dag-pb block come from the index when it knows c (it is a cache
// of what the block says), everything else from the block itself.
func (s *Store) blockChildren(tx *bolt.Tx, c cid.Cid) ([]cid.Cid, error) {
	w := s.Walker()
	if c.Type() == cid.Raw {
		return w.Children(c, nil) // raw: no links, only references
	}
	if tx != nil && c.Type() == cid.DagProtobuf {
		if v := tx.Bucket(refsBucket).Get(c.Bytes()); v != nil {
			ch, err := decodeRefs(v)
			if err != nil {
				return nil, err
			}
			refs, _, err := s.RecordedReferences(c)
			return append(ch, refs...), err
		}
	}
	data, err := s.GetBlock(c)
	if err != nil {
		return nil, err
	}
	return w.Children(c, data)
}

// Closure returns every CID reachable from root by the store's Walker (IPLD
// links, derivation inputs, runtime references; root included), each once,
// in breadth-first order. A missing block is an error: the closure is then
// incomplete.
func (s *Store) Closure(root cid.Cid) ([]cid.Cid, error) {
	db, err := s.refs.acquire()
	if err != nil {
		return nil, err
	}
	defer s.refs.release()
	var out []cid.Cid
	err = db.View(func(tx *bolt.Tx) error {
		seen := map[cid.Cid]struct{}{}
		var e error
		out, e = s.closureTx(tx, []cid.Cid{root}, seen, false)
		return e
	})
	return out, err
}

// closureTx walks from roots, adding to seen. With tolerant set, missing or
// corrupted blocks are skipped (GC must keep what it can of a damaged pin)
// instead of failing.
func (s *Store) closureTx(tx *bolt.Tx, roots []cid.Cid, seen map[cid.Cid]struct{}, tolerant bool) ([]cid.Cid, error) {
	var out []cid.Cid
	queue := append([]cid.Cid(nil), roots...)
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if _, ok := seen[c]; ok {
			continue
		}
		seen[c] = struct{}{}
		out = append(out, c)
		ch, err := s.blockChildren(tx, c)
		if err != nil {
			if tolerant {
				continue
			}
			return nil, fmt.Errorf("closure of %s: %w", roots[0], err)
		}
		queue = append(queue, ch...)
	}
	return out, nil
}
