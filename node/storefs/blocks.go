package storefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sys/unix"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/block"
)

// identityData returns the inline data of an identity-hashed CID.
func identityData(c cid.Cid) ([]byte, bool) {
	if c.Prefix().MhType != mh.IDENTITY {
		return nil, false
	}
	dec, err := mh.Decode(c.Hash())
	if err != nil {
		return nil, false
	}
	return dec.Digest, true
}

// GetBlock reads block c and checks its hash: it never returns bytes that do
// not match c. A missing block gives ErrNotFound, a bad one block.ErrCorrupt.
func (s *Store) GetBlock(c cid.Cid) ([]byte, error) {
	if !c.Defined() {
		return nil, errors.New("get block: undefined CID")
	}
	if d, ok := identityData(c); ok {
		return d, nil
	}
	data, err := os.ReadFile(s.BlockPath(c))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, c)
		}
		return nil, fmt.Errorf("read block %s: %w", c, err)
	}
	if err := block.Verify(c, data); err != nil {
		return nil, err
	}
	return data, nil
}

// HasBlock reports whether block c is present (without rehashing it).
func (s *Store) HasBlock(c cid.Cid) (bool, error) {
	if _, ok := identityData(c); ok {
		return true, nil
	}
	_, err := os.Lstat(s.BlockPath(c))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("stat block %s: %w", c, err)
}

// PutBlock verifies that data hashes to c and stores it durably.
func (s *Store) PutBlock(c cid.Cid, data []byte) error {
	if err := block.Verify(c, data); err != nil {
		return fmt.Errorf("put block: %w", err)
	}
	w := s.newWriter()
	w.put(c, data)
	return w.commit()
}

// writer stores blocks through a small pool of goroutines: each block is
// written to tmp/{pid}-{rand}, fsynced and made read-only while the importer
// keeps hashing. commit then renames the whole batch into blocks/ and fsyncs
// blocks/ once; abort deletes the temp files instead, so a failed add leaves
// the store unchanged and a crash at any point leaves either a whole block
// or nothing under its name. The refs of the dag-pb blocks go to the index
// in one transaction at commit.
type writer struct {
	s       *Store
	sem     chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
	refs    []refEntry
	renames [][2]string // temp name, final name, in the order the writes finished
	queued  map[cid.Cid]struct{}

	// Durability is made while the import runs: every syncEvery bytes
	// written, one background syncfs makes all temp files finished so far
	// durable (renames[:durable]), so commit only syncs the tail instead of
	// waiting for the whole add's writeback at the end. Renames still all
	// happen at commit, so a failed add leaves blocks/ unchanged.
	unsynced int64         // bytes written since the last background sync started
	durable  int           // renames[:durable] are known durable
	syncing  chan struct{} // closed when the running background sync ends; nil if none
	syncErr  error
}

// syncEvery is the amount of block data after which a background syncfs
// starts (one at a time); tests lower it.
var syncEvery int64 = 64 << 20

type refEntry struct {
	c        cid.Cid
	children []cid.Cid
}

var writerParallelism = max(4, runtime.GOMAXPROCS(0)*2)

func (s *Store) newWriter() *writer {
	return &writer{s: s, sem: make(chan struct{}, writerParallelism), queued: map[cid.Cid]struct{}{}}
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// put schedules block (c, data); data must not be modified afterwards.
// The caller has already computed c from data (importer) or verified it
// (PutBlock, PutMany, a verified batch's block.Checked).
func (w *writer) put(c cid.Cid, data []byte) { w.putLinks(c, data, nil, false, nil) }

// putOwned is put for a file leaf (no children) whose buffer the writer
// hands back through release once it no longer needs the bytes.
func (w *writer) putOwned(c cid.Cid, data []byte, release func()) {
	w.putLinks(c, data, nil, true, release)
}

// putLinks is put with the block's children already known (the importer
// has the decoded node), which saves decoding dag-pb blocks again. release,
// when set, is called once data is no longer needed.
func (w *writer) putLinks(c cid.Cid, data []byte, children []cid.Cid, known bool, release func()) {
	async := false
	defer func() {
		if !async && release != nil {
			release()
		}
	}()
	if _, ok := identityData(c); ok {
		return
	}
	w.mu.Lock()
	_, dup := w.queued[c]
	w.queued[c] = struct{}{}
	w.mu.Unlock()
	if dup {
		return
	}
	if c.Type() == cid.DagProtobuf {
		if !known {
			var err error
			if children, err = block.Links(c, data); err != nil {
				w.fail(fmt.Errorf("decode dag-pb block %s: %w", c, err))
				return
			}
		}
		w.mu.Lock()
		w.refs = append(w.refs, refEntry{c: c, children: children})
		w.mu.Unlock()
	}
	final := w.s.BlockPath(c)
	if _, err := os.Lstat(final); err == nil {
		return // idempotent: content-addressed, already durable
	}
	w.sem <- struct{}{}
	w.wg.Add(1)
	async = true
	go func() {
		defer func() {
			<-w.sem
			if release != nil {
				release()
			}
			w.wg.Done()
		}()
		tmp, err := w.s.writeTempBlock(data)
		if err != nil {
			w.fail(fmt.Errorf("block %s: %w", c, err))
			return
		}
		w.mu.Lock()
		w.renames = append(w.renames, [2]string{tmp, final})
		w.unsynced += int64(len(data))
		if w.unsynced >= syncEvery && w.syncing == nil {
			w.startSyncLocked()
		}
		w.mu.Unlock()
	}()
}

// startSyncLocked starts a background syncfs covering every temp file
// whose write has finished (w.mu held).
func (w *writer) startSyncLocked() {
	upTo := len(w.renames)
	w.unsynced = 0
	done := make(chan struct{})
	w.syncing = done
	go func() {
		defer close(done)
		err := w.s.syncFS()
		w.mu.Lock()
		if err != nil && w.syncErr == nil {
			w.syncErr = err
		} else if err == nil {
			w.durable = max(w.durable, upTo)
		}
		w.syncing = nil
		w.mu.Unlock()
	}()
}

// waitSync waits for a running background sync.
func (w *writer) waitSync() {
	w.mu.Lock()
	done := w.syncing
	w.mu.Unlock()
	if done != nil {
		<-done
	}
}

// abort discards everything scheduled: the store is left as it was.
func (w *writer) abort() {
	w.wg.Wait()
	w.waitSync()
	for _, r := range w.renames {
		_ = os.Remove(r[0])
	}
	w.renames = nil
}

// commit waits for all scheduled writes and makes them visible and durable;
// on any error it aborts.
func (w *writer) commit() error {
	w.wg.Wait()
	w.waitSync()
	if w.err != nil {
		w.abort()
		return w.err
	}
	if w.syncErr != nil {
		w.abort()
		return w.syncErr
	}
	if err := w.s.syncTemps(w.renames[w.durable:]); err != nil {
		w.abort()
		return err
	}
	if testHookBeforeRename != nil && len(w.renames) > 0 {
		testHookBeforeRename(w.renames[0][0])
	}
	for i, r := range w.renames {
		if err := os.Rename(r[0], r[1]); err != nil {
			for _, rest := range w.renames[i:] {
				_ = os.Remove(rest[0])
			}
			return fmt.Errorf("rename block %s: %w", filepath.Base(r[1]), err)
		}
	}
	if len(w.renames) > 0 {
		if err := atomicfile.SyncDir(w.s.blocksDir); err != nil {
			return err
		}
	}
	w.renames = nil
	if len(w.refs) > 0 {
		if err := w.s.refs.put(w.refs); err != nil {
			return err
		}
	}
	return nil
}

func tmpName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// writeTempBlock writes data to a fresh temp file, starts its writeback
// and makes it read-only; commit makes it durable (syncTemps) and renames it
// into blocks/.
func (s *Store) writeTempBlock(data []byte) (string, error) {
	tmp := filepath.Join(s.tmpDir, tmpName())
	// Raw system calls rather than *os.File: os.OpenFile also tries to
	// register every file with the network poller and File.Fd switches it
	// back to blocking mode, two wasted system calls per block. Created
	// read-only (0444) straight away: opening a new file for writing does
	// not check its mode, and it saves a chmod (an inode update) per block.
	fd, err := unix.Open(tmp, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	// No sync_file_range per block: the writer's background syncfs every
	// syncEvery bytes starts the writeback in large merged batches, which
	// measured 0.8-1 CPU-s/GiB cheaper than one small writeback per block.
	err = writeFull(fd, data)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	return tmp, nil
}

// writeFull writes all of data to fd (write may be partial, or interrupted).
func writeFull(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		data = data[n:]
	}
	return nil
}

// syncBatchThreshold: batches with more new blocks than this are made
// durable with one syncfs(2) of the store's filesystem (one journal commit)
// instead of an fsync (and journal commit) per block file.
const syncBatchThreshold = 16

// syncTemps makes the temp files of a batch durable before they are renamed.
func (s *Store) syncTemps(renames [][2]string) error {
	if len(renames) == 0 {
		return nil
	}
	if len(renames) > syncBatchThreshold {
		return s.syncFS()
	}
	for _, r := range renames {
		f, err := os.Open(r[0])
		if err != nil {
			return fmt.Errorf("sync block: %w", err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync block %s: %w", r[0], err)
		}
	}
	return nil
}

// syncFS makes everything written to the store's filesystem durable.
func (s *Store) syncFS() error {
	d, err := os.Open(s.tmpDir)
	if err != nil {
		return fmt.Errorf("sync blocks: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("sync blocks: syncfs: %w", err)
	}
	return nil
}

// testHookBeforeRename lets the crash test stop a child process after a
// batch is written and fsynced but before it is renamed into place.
var testHookBeforeRename func(tmp string)

// deleteBlock removes block c (GC sweep and DeleteBlock).
func (s *Store) deleteBlock(c cid.Cid) error {
	err := os.Remove(s.BlockPath(c))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete block %s: %w", c, err)
	}
	return nil
}

// AllBlocks lists the CIDs of every block file (in directory order).
// Files whose names are not CIDs are skipped.
func (s *Store) AllBlocks() ([]cid.Cid, error) {
	d, err := os.Open(s.blocksDir)
	if err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	defer d.Close()
	var out []cid.Cid
	for {
		names, err := d.Readdirnames(4096)
		for _, n := range names {
			c, perr := cid.Decode(n)
			if perr == nil {
				out = append(out, c)
			}
		}
		if err != nil {
			break
		}
	}
	return out, nil
}
