package storefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// AddOptions tune AddPath and AddReader.
type AddOptions struct {
	// PreserveMode stores each file's and directory's UnixFS mode, as kubo's
	// --preserve-mode does (files then become dag-pb leaves: kubo refuses raw
	// leaves with metadata). Build outputs are always added with it.
	PreserveMode bool

	// SelfRef, when set, is the placeholder the build used for its own final
	// CID (SelfRefLen bytes, see Placeholder). Each occurrence in a file is
	// hashed as SelfRefFiller and its offset recorded in the file's root
	// node; readers write the real root CID back there.
	SelfRef []byte

	// Progress, when set, is called with the number of file bytes read so
	// far (from several goroutines; it must be cheap and thread-safe).
	Progress func(total int64)

	// OnlyHash computes the root CID without storing anything (kubo's
	// --only-hash): no lock, no blocks, no pin.
	OnlyHash bool

	// NoTempPin skips the temporary pin of the root for this process. Only
	// safe with HoldingLock, when the caller pins the root itself before
	// leaving WithAddLock.
	NoTempPin bool

	// HoldingLock says the caller already runs inside WithAddLock, so the
	// add must not take the GC lock again (flock is not re-entrant: a GC
	// waiting in between would deadlock).
	HoldingLock bool
}

// AddPath imports a file, directory tree or symlink into the store and
// returns its root CID, which equals kubo's for the same flags. It holds the
// GC lock shared while adding and pins the root temporarily for this process
// (pins/temp/{pid}) before releasing it, so a concurrent GC never loses a
// block of it; pin it for good with Pin and drop the temp pin with
// ReleaseTempPin.
func (s *Store) AddPath(ctx context.Context, path string, opts AddOptions) (cid.Cid, error) {
	if _, err := os.Lstat(path); err != nil {
		return cid.Undef, fmt.Errorf("add %q: %w", path, err)
	}
	if opts.OnlyHash {
		return s.addPathLocked(ctx, path, opts)
	}
	var root cid.Cid
	err := s.withAddLockUnless(opts.HoldingLock, func() error {
		var err error
		root, err = s.addPathLocked(ctx, path, opts)
		if err != nil {
			return err
		}
		if !opts.NoTempPin {
			return s.TempPin(root)
		}
		return nil
	})
	if err != nil {
		return cid.Undef, err
	}
	return root, nil
}

// AddReader imports one file's bytes (mode 0 unless opts.PreserveMode and
// mode are given) and temp-pins it like AddPath.
func (s *Store) AddReader(ctx context.Context, r io.Reader, mode os.FileMode, opts AddOptions) (cid.Cid, error) {
	if opts.SelfRef != nil && len(opts.SelfRef) != SelfRefLen {
		return cid.Undef, fmt.Errorf("add from reader: self-reference placeholder is %d bytes, want %d", len(opts.SelfRef), SelfRefLen)
	}
	var root cid.Cid
	err := s.withAddLockUnless(opts.HoldingLock || opts.OnlyHash, func() error {
		dag := s.newImportDAG()
		dag.discard = opts.OnlyHash
		nd, err := s.addFileReader(ctx, dag, r, mode, &opts, new(atomic.Int64))
		if err != nil {
			dag.w.abort()
			return err
		}
		if err := dag.commit(); err != nil {
			return err
		}
		root = nd.Cid()
		if !opts.NoTempPin && !opts.OnlyHash {
			return s.TempPin(root)
		}
		return nil
	})
	if err != nil {
		return cid.Undef, fmt.Errorf("add from reader: %w", err)
	}
	return root, nil
}

func (s *Store) addPathLocked(ctx context.Context, path string, opts AddOptions) (cid.Cid, error) {
	if opts.SelfRef != nil && len(opts.SelfRef) != SelfRefLen {
		return cid.Undef, fmt.Errorf("add %q: self-reference placeholder is %d bytes, want %d", path, len(opts.SelfRef), SelfRefLen)
	}
	dag := s.newImportDAG()
	dag.discard = opts.OnlyHash
	im := &importer{s: s, dag: dag, opts: &opts, sem: make(chan struct{}, runtime.GOMAXPROCS(0)), read: new(atomic.Int64)}
	nd, err := im.addAny(ctx, path)
	if err != nil {
		dag.w.abort() // a failed add leaves the store unchanged
		return cid.Undef, fmt.Errorf("add %q: %w", path, err)
	}
	if err := dag.commit(); err != nil {
		return cid.Undef, fmt.Errorf("add %q: %w", path, err)
	}
	return nd.Cid(), nil
}

type importer struct {
	s    *Store
	dag  *importDAG
	opts *AddOptions
	sem  chan struct{} // bounds concurrent file imports
	read *atomic.Int64
}

func (im *importer) addAny(ctx context.Context, path string) (ipld.Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return im.addSymlink(ctx, path)
	case fi.IsDir():
		return im.addDir(ctx, path, fi)
	case fi.Mode().IsRegular():
		im.sem <- struct{}{}
		defer func() { <-im.sem }()
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		nd, err := im.s.addFileReader(ctx, im.dag, f, fi.Mode(), im.opts, im.read)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nd, nil
	default:
		return nil, fmt.Errorf("%s: unsupported file type %s", path, fi.Mode().Type())
	}
}

func (im *importer) addSymlink(ctx context.Context, path string) (ipld.Node, error) {
	target, err := os.Readlink(path)
	if err != nil {
		return nil, err
	}
	// Self-references in link targets ($out/bin/y -> $out/share/x) are
	// hashed modulo the placeholder like file contents.
	target, offs := scanName(target, im.opts.SelfRef)
	data, err := unixfs.SymlinkData(target)
	if err != nil {
		return nil, err
	}
	if len(offs) > 0 {
		data = appendSelfRefs(data, SelfRefs{Len: len(im.opts.SelfRef), Offsets: offs})
	}
	nd := merkledag.NodeWithData(data)
	if err := nd.SetCidBuilder(cidBuilder); err != nil {
		return nil, err
	}
	return nd, im.dag.Add(ctx, nd)
}

func (im *importer) addDir(ctx context.Context, path string, fi os.FileInfo) (ipld.Node, error) {
	ents, err := os.ReadDir(path) // sorted by name, as kubo walks
	if err != nil {
		return nil, err
	}
	dopts := []uio.DirectoryOption{uio.WithCidBuilder(cidBuilder), uio.WithMaxHAMTFanout(HAMTFanout),
		uio.WithSizeEstimationMode(uio.SizeEstimationLinks)}
	if im.opts.PreserveMode {
		dopts = append(dopts, uio.WithStat(fi.Mode(), zeroTime))
	}
	dir, err := uio.NewDirectory(im.dag, dopts...)
	if err != nil {
		return nil, err
	}
	// Per directory, not boxo's global uio.HAMTShardingSize (carried over
	// when the directory converts to or from a HAMT).
	dir.SetHAMTShardingSize(HAMTShardingSize)
	// Children are imported concurrently (files bounded by im.sem) and
	// linked in name order.
	nodes := make([]ipld.Node, len(ents))
	errs := make([]error, len(ents))
	var wg sync.WaitGroup
	for i, e := range ents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = im.addAny(ctx, filepath.Join(path, e.Name()))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Self-references in entry names are stored as the filler, like those
	// in contents, with their offsets in the directory's root node.
	var refs NameRefs
	stored := make(map[string]string, len(ents)) // stored name → on-disk name
	for i, e := range ents {
		name, offs := scanName(e.Name(), im.opts.SelfRef)
		if prev, dup := stored[name]; dup {
			return nil, fmt.Errorf("%s: entries %q and %q have the same name modulo the self-reference placeholder", path, prev, e.Name())
		}
		stored[name] = e.Name()
		if len(offs) > 0 {
			refs.Names = append(refs.Names, NameRef{Stored: name, Offsets: offs})
		}
		if err := dir.AddChild(ctx, name, nodes[i]); err != nil {
			return nil, fmt.Errorf("%s: link %q: %w", path, e.Name(), err)
		}
	}
	nd, err := dir.GetNode()
	if err != nil {
		return nil, err
	}
	if len(refs.Names) > 0 {
		refs.Len = len(im.opts.SelfRef)
		slices.SortFunc(refs.Names, func(a, b NameRef) int { return strings.Compare(a.Stored, b.Stored) })
		if nd, err = attachNameRefs(nd, refs); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return nd, im.dag.Add(ctx, nd)
}

// addFileReader imports r as one UnixFS file (the DAG of boxo's balanced
// layout, see fileimport.go) and returns a node that stands for its root.
func (s *Store) addFileReader(ctx context.Context, dag *importDAG, r io.Reader, mode os.FileMode, opts *AddOptions, read *atomic.Int64) (ipld.Node, error) {
	var sr *selfRefScanner
	if opts.SelfRef != nil {
		sr = newSelfRefScanner(r, opts.SelfRef)
		r = sr
	}
	if opts.Progress != nil {
		r = &progressReader{r: r, total: read, fn: opts.Progress}
	}
	l := fileLayout{chunkSize: ChunkSize, maxLinks: LinksPerBlock, raw: !opts.PreserveMode}
	if opts.PreserveMode {
		l.mode = mode
	}
	link, err := importFile(ctx, dag, r, l, sr, len(opts.SelfRef))
	if err != nil {
		return nil, err
	}
	return storedFile{link}, nil
}

type progressReader struct {
	r     io.Reader
	total *atomic.Int64
	fn    func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.fn(p.total.Add(int64(n)))
	}
	return n, err
}
