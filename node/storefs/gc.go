package storefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ipfs/go-cid"
	bolt "go.etcd.io/bbolt"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

// GCResult summarises one collection.
type GCResult struct {
	Roots         int   // live pins whose closure was kept
	Kept          int   // blocks marked live
	Removed       int   // blocks swept
	FreedBytes    int64 // bytes of swept blocks
	DanglingPins  int   // auto pins and dead temp pins removed
	MissingBlocks int   // blocks referenced by live pins but absent
}

// GC removes dangling pins, marks the closure of every live pin (temp pins
// of live processes included) and sweeps every other block. It holds the
// GC lock exclusively for mark and sweep, so it waits for running adds and
// they wait for it: an add never loses a block.
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	var res GCResult
	unlock, err := s.lockFile(syscall.LOCK_EX)
	if err != nil {
		return res, err
	}
	defer unlock()

	roots, dangling := s.gcRoots()
	res.DanglingPins = dangling
	res.Roots = len(roots)

	db, err := s.refs.acquire()
	if err != nil {
		return res, err
	}
	defer s.refs.release()

	live := map[cid.Cid]struct{}{}
	err = db.View(func(tx *bolt.Tx) error {
		_, err := s.closureTx(tx, roots, live, true)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("gc mark: %w", err)
	}
	all, err := s.AllBlocks()
	if err != nil {
		return res, fmt.Errorf("gc sweep: %w", err)
	}
	present := make(map[cid.Cid]struct{}, len(all))
	var swept []cid.Cid
	for _, c := range all {
		present[c] = struct{}{}
		if err := ctx.Err(); err != nil {
			break // stop sweeping; what is left is swept next time
		}
		if _, ok := live[c]; ok {
			continue
		}
		if fi, err := os.Lstat(s.BlockPath(c)); err == nil {
			res.FreedBytes += fi.Size()
		}
		if err := s.deleteBlock(c); err != nil {
			return res, fmt.Errorf("gc sweep: %w", err)
		}
		swept = append(swept, c)
	}
	for c := range live {
		if _, ok := present[c]; !ok {
			if _, ok := identityData(c); !ok {
				res.MissingBlocks++
			}
		}
	}
	res.Kept = len(live) - res.MissingBlocks
	res.Removed = len(swept)
	if len(swept) > 0 {
		if err := atomicfile.SyncDir(s.blocksDir); err != nil {
			return res, err
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(refsBucket)
			for _, c := range swept {
				if err := b.Delete(c.Bytes()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("gc: prune refs index: %w", err)
		}
	}
	s.cleanTmp()
	return res, ctx.Err()
}

// gcRoots collects the CIDs of all live pins and removes dangling ones:
// auto pins whose user path no longer links into the store, and temp pins
// of processes that are gone. Temp pins are read before user pins: the
// usual hand-over is "add (temp pin), pin for good, drop the temp pin", so
// reading in that order sees the root in at least one of the two lists.
func (s *Store) gcRoots() ([]cid.Cid, int) {
	var roots []cid.Cid
	dangling := 0
	tbase := filepath.Join(s.pinsDir, "temp")
	pids, _ := os.ReadDir(tbase)
	for _, d := range pids {
		pid, err := strconv.Atoi(d.Name())
		dir := filepath.Join(tbase, d.Name())
		if err != nil || !pidAlive(pid) {
			ents, _ := os.ReadDir(dir)
			if os.RemoveAll(dir) == nil {
				dangling += len(ents)
			}
			continue
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if c, err := cid.Decode(e.Name()); err == nil {
				roots = append(roots, c)
			}
		}
	}
	pins, _ := s.ListPins()
	for _, p := range pins {
		switch p.Kind {
		case "user":
			roots = append(roots, p.CID)
		case "auto":
			if p.CID.Defined() {
				roots = append(roots, p.CID)
			} else if os.Remove(p.Path) == nil {
				dangling++
			}
		}
	}
	return roots, dangling
}
