package storefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Import parameters of the store (docs/ARCHITECTURE.md). They equal kubo
// v0.42's defaults for
// `ipfs add --cid-version=1 --raw-leaves --chunker=size-262144`, checked
// against testdata/kubo-cids by the tests. They are passed to the file layout
// and to every directory explicitly (dirOptions), never set as boxo's
// process-wide defaults, so that importing storefs changes nothing else in
// a binary.
const (
	ChunkSize        = 262144
	LinksPerBlock    = 174 // kubo's legacy FileDAGWidth
	HAMTShardingSize = 256 << 10
	HAMTFanout       = 256
)

// cidBuilder gives CIDv1 dag-pb sha2-256 nodes; raw leaves get the raw codec
// from the importer itself.
var cidBuilder = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}

// Store is an open store root. It is safe for concurrent use by many
// goroutines and, through file locks, by many processes.
type Store struct {
	root      string
	blocksDir string
	tmpDir    string
	pinsDir   string

	refs *refsIndex

	// temp counts this process's temp pins per CID (TempPin).
	temp struct {
		mu sync.Mutex
		n  map[cid.Cid]int
	}

	closeOnce sync.Once
}

// ErrNotFound is returned (wrapped) when a block is not in the store.
var ErrNotFound = errors.New("block not found")

// Open opens (creating if needed) the store rooted at root.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("open store: empty root path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", root, err)
	}
	s := &Store{
		root:      abs,
		blocksDir: filepath.Join(abs, "blocks"),
		tmpDir:    filepath.Join(abs, "tmp"),
		pinsDir:   filepath.Join(abs, "pins"),
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("open store %q: %w", root, err)
	}
	markTopDir(abs) // before blocks/ and tmp/ are made (topdir.go)
	for _, d := range []string{s.blocksDir, s.tmpDir, filepath.Join(s.pinsDir, "per-user"),
		filepath.Join(s.pinsDir, "temp"), filepath.Join(abs, "store"), filepath.Join(abs, "references")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open store %q: %w", root, err)
		}
	}
	lock := filepath.Join(s.pinsDir, "lock")
	f, err := os.OpenFile(lock, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open store %q: create gc lock: %w", root, err)
	}
	f.Close()
	s.refs = newRefsIndex(filepath.Join(abs, "refs.db"))
	s.cleanTmp()
	return s, nil
}

// Root returns the absolute store root.
func (s *Store) Root() string { return s.root }

// MountDir returns the directory where the FUSE view is mounted by default.
func (s *Store) MountDir() string { return filepath.Join(s.root, "store") }

// Close releases the store's resources. Blocks and pins stay on disk.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.refs.close() })
	return err
}

// BlockPath returns the file that holds block c (whether or not it exists).
func (s *Store) BlockPath(c cid.Cid) string {
	return filepath.Join(s.blocksDir, c.String())
}

// cleanTmp removes temp files of processes that died mid-write: a crash
// between write and rename leaves only such files, never a visible block.
func (s *Store) cleanTmp() {
	ents, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, ok := tmpOwner(e.Name())
		if ok && pidAlive(pid) {
			continue
		}
		if !ok {
			// Unknown names are only removed once clearly stale.
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < time.Hour {
				continue
			}
		}
		_ = os.Remove(filepath.Join(s.tmpDir, e.Name()))
	}
}

// tmpOwner parses the pid out of a temp name "{pid}-{random}".
func tmpOwner(name string) (int, bool) {
	i := strings.IndexByte(name, '-')
	if i <= 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(name[:i])
	return pid, err == nil && pid > 0
}

// pidAlive reports whether a process with this pid exists (EPERM means it
// exists but belongs to someone else).
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
