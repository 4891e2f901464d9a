package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/buildchain/buildchain/node/storefs"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"golang.org/x/sys/unix"
)

// Options tune a mount.
type Options struct {
	// AllowOther lets users other than the mounter read the view (needs
	// user_allow_other in /etc/fuse.conf for non-root mounters). The sandbox
	// needs it when builds run as another user.
	AllowOther bool
	// Debug logs every FUSE request.
	Debug bool
	// Logger receives read errors (EIO causes); nil discards them.
	Logger *log.Logger
	// SendOpens keeps OPEN requests (answered with FOPEN_KEEP_CACHE)
	// instead of the faster no-open mode; for comparison in benchmarks.
	SendOpens bool
	// ReadaheadKiB is the kernel's readahead window for the mount (its
	// backing device's read_ahead_kb); 0 means defaultReadaheadKiB, a
	// negative value keeps the kernel's default (128 KiB), for comparison
	// in benchmarks.
	ReadaheadKiB int
}

// maxRead is the largest READ request the kernel sends (max_read): one
// 256 KiB leaf, so that a request is usually served from one verified
// block without a copy (fileNode.Read), and a readahead window becomes
// many requests that go-fuse serves on as many goroutines, their leaves
// read and hashed in parallel. A variable for the benchmark's comparison.
var maxRead = 256 << 10

// maxBackground is how many asynchronous (readahead) requests the kernel
// keeps in flight (go-fuse's default is 12): a 4 MiB readahead window is
// 16 requests of maxRead, and two windows may overlap.
const maxBackground = 32

// defaultReadaheadKiB is the readahead window Mount sets. The kernel gives
// a FUSE mount 128 KiB (whatever max_readahead the server asks for), so a
// cold sequential read of a large file costs a round trip per 128 KiB and
// reads each 256 KiB leaf in two requests; with 4 MiB the kernel sends
// requests of max_read (maxRead), up to maxBackground at once, and their
// leaves are read and hashed in parallel. Measured with 1 MiB requests:
// 130 requests for a 16 MiB file instead of 19.
const defaultReadaheadKiB = 4096

// Mount mounts the view of s at dir and serves it in the background; call
// Unmount (or fusermount3 -u) to stop, Wait to block until then.
func Mount(s *storefs.Store, dir string, opts Options) (*fuse.Server, error) {
	long := time.Hour
	neg := time.Second // a CID that is absent now may be added soon
	root := &rootNode{fsys: &filesystem{s: s, log: opts.Logger, noOpen: !opts.SendOpens, blocks: newBlockCache(blockCacheBytes)}}
	o := &fs.Options{
		EntryTimeout:    &long,
		AttrTimeout:     &long,
		NegativeTimeout: &neg,
		MountOptions: fuse.MountOptions{
			AllowOther:           opts.AllowOther,
			FsName:               fsNamePrefix + s.Root(), // see MountedStore
			Name:                 "buildchain",
			MaxWrite:             maxRead, // also max_read
			MaxReadAhead:         maxRead,
			MaxBackground:        maxBackground,
			EnableSymlinkCaching: true,
			DisableXAttrs:        true,
			DirectMount:          true, // as root: mount(2) without fusermount3
			Debug:                opts.Debug,
			Options:              []string{"ro", "default_permissions"},
		},
	}
	// A mount whose server died (kill -9, crash) leaves "transport endpoint
	// is not connected" behind; detach it so the store can be mounted again.
	// stat may be answered from cached attributes; listing goes to the
	// server.
	if deadMount(dir) {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			return nil, fmt.Errorf("mount store at %s: detach dead mount: %w", dir, err)
		}
	}
	srv, err := fs.Mount(dir, root, o)
	if err != nil {
		return nil, fmt.Errorf("mount store at %s: %w", dir, err)
	}
	if ra := opts.ReadaheadKiB; ra >= 0 {
		if ra == 0 {
			ra = defaultReadaheadKiB
		}
		// Best effort: only root may write the setting; reads are
		// correct either way, only slower.
		if err := setReadahead(dir, ra); err != nil {
			root.fsys.logf("mount %s: readahead stays at the kernel's default: %v", dir, err)
		}
	}
	return srv, nil
}

// setReadahead sets the readahead window of the filesystem mounted at dir
// through its backing device info in sysfs.
func setReadahead(dir string, kib int) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(p, []byte(strconv.Itoa(kib)), 0)
}

func deadMount(dir string) bool {
	f, err := os.Open(dir)
	if err == nil {
		_, err = f.Readdirnames(1)
		f.Close()
	}
	return errors.Is(err, syscall.ENOTCONN)
}

type filesystem struct {
	s      *storefs.Store
	log    *log.Logger
	noOpen bool
	blocks *blockCache
}

func (f *filesystem) logf(format string, args ...any) {
	if f.log != nil {
		f.log.Printf(format, args...)
	}
}

// errno maps store errors to what the kernel should see: absent → ENOENT
// only for lookups; any failure to produce verified bytes → EIO.
func (f *filesystem) eio(what string, err error) syscall.Errno {
	f.logf("storefs fuse: %s: %v", what, err)
	return syscall.EIO
}

// rootNode is {mount}: looking up a CID name gives that tree. It lists
// nothing (like /ipfs): the store holds too many blocks to enumerate.
type rootNode struct {
	fs.Inode
	fsys *filesystem
}

var _ = (fs.NodeLookuper)((*rootNode)(nil))
var _ = (fs.NodeReaddirer)((*rootNode)(nil))
var _ = (fs.NodeGetattrer)((*rootNode)(nil))

func (r *rootNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = fuse.S_IFDIR | 0o555
	return 0
}

func (r *rootNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return fs.NewListDirStream(nil), 0
}

func (r *rootNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	c, err := cid.Decode(name)
	if err != nil {
		return nil, syscall.ENOENT
	}
	nd, err := r.fsys.s.GetNode(c)
	if err != nil {
		if errors.Is(err, storefs.ErrNotFound) {
			return nil, syscall.ENOENT
		}
		return nil, r.fsys.eio("lookup "+name, err)
	}
	return r.fsys.newChild(ctx, &r.Inode, name, nd, c, out)
}

// newChild makes the inode for node nd reached under root.
func (f *filesystem) newChild(ctx context.Context, parent *fs.Inode, name string, nd ipld.Node, root cid.Cid, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	e, err := storefs.StatNode(name, nd)
	if err != nil {
		return nil, f.eio("stat "+name, err)
	}
	var emb fs.InodeEmbedder
	var mode uint32
	switch e.Kind {
	case storefs.KindDir:
		emb = &dirNode{fsys: f, nd: nd, root: root}
		mode = fuse.S_IFDIR
	case storefs.KindSymlink:
		t, err := storefs.SymlinkTarget(nd, root)
		if err != nil {
			return nil, f.eio("readlink "+name, err)
		}
		emb = &linkNode{target: []byte(t)}
		mode = fuse.S_IFLNK
	default:
		refs, err := storefs.FileSelfRefs(nd)
		if err != nil {
			return nil, f.eio("self-refs of "+name, err)
		}
		if len(refs.Offsets) > 0 && refs.Len != len(root.String()) {
			return nil, f.eio("self-refs of "+name, fmt.Errorf("a self-reference of %d bytes cannot hold root %s", refs.Len, root))
		}
		emb = &fileNode{fsys: f, nd: nd, size: e.Size, refs: refs, rootStr: []byte(root.String())}
		mode = fuse.S_IFREG
	}
	setAttr(&out.Attr, e)
	child := parent.NewInode(ctx, emb, fs.StableAttr{Mode: mode})
	return child, 0
}

// setAttr: read-only view; recorded modes keep their execute bits.
func setAttr(a *fuse.Attr, e storefs.Entry) {
	perm := uint32(0o444)
	if e.Mode&0o111 != 0 || e.Kind == storefs.KindDir {
		perm = 0o555
	}
	if e.Kind == storefs.KindSymlink {
		perm = 0o777
	}
	switch e.Kind {
	case storefs.KindDir:
		a.Mode = fuse.S_IFDIR | perm
		a.Nlink = 2
	case storefs.KindSymlink:
		a.Mode = fuse.S_IFLNK | perm
		a.Nlink = 1
	default:
		a.Mode = fuse.S_IFREG | perm
		a.Nlink = 1
	}
	a.Size = e.Size
	a.Blocks = (e.Size + 511) / 512
	a.Blksize = 1 << 20
	// Epoch 1 like Nix store paths (SOURCE_DATE_EPOCH=1).
	a.Mtime, a.Atime, a.Ctime = 1, 1, 1
}

// dirNode is a UnixFS directory (basic or HAMT). Its links are decoded
// once, on first use, and kept.
type dirNode struct {
	fs.Inode
	fsys *filesystem
	nd   ipld.Node
	root cid.Cid

	once  sync.Once
	links map[string]cid.Cid
	names []string
	err   error
}

var _ = (fs.NodeLookuper)((*dirNode)(nil))
var _ = (fs.NodeReaddirer)((*dirNode)(nil))
var _ = (fs.NodeGetattrer)((*dirNode)(nil))

func (d *dirNode) load(ctx context.Context) error {
	d.once.Do(func() {
		dir, err := uio.NewDirectoryFromNode(d.fsys.s.DAG(), d.nd)
		if err != nil {
			d.err = err
			return
		}
		links, err := dir.Links(context.WithoutCancel(ctx))
		if err != nil {
			d.err = err
			return
		}
		// Names with self-references are shown with the root's CID, like
		// file contents and symlink targets.
		refs, err := storefs.DirNameRefs(d.nd)
		if err != nil {
			d.err = err
			return
		}
		rootStr := []byte(d.root.String())
		d.links = make(map[string]cid.Cid, len(links))
		for _, l := range links {
			name := refs.Shown(l.Name, rootStr)
			if _, dup := d.links[name]; !dup {
				d.names = append(d.names, name)
			}
			d.links[name] = l.Cid
		}
	})
	return d.err
}

func (d *dirNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return d.fsys.getattr("stat dir", d.nd, out)
}

// getattr fills out with the attributes of a directory's or file's node.
func (f *filesystem) getattr(what string, nd ipld.Node, out *fuse.AttrOut) syscall.Errno {
	e, err := storefs.StatNode("", nd)
	if err != nil {
		return f.eio(what, err)
	}
	setAttr(&out.Attr, e)
	return 0
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := d.load(ctx); err != nil {
		return nil, d.fsys.eio("list "+d.nd.Cid().String(), err)
	}
	c, ok := d.links[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	nd, err := d.fsys.s.GetNode(c)
	if err != nil {
		return nil, d.fsys.eio("lookup "+name, err)
	}
	return d.fsys.newChild(ctx, &d.Inode, name, nd, d.root, out)
}

func (d *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if err := d.load(ctx); err != nil {
		return nil, d.fsys.eio("list "+d.nd.Cid().String(), err)
	}
	ents := make([]fuse.DirEntry, 0, len(d.names))
	for _, n := range d.names {
		// The entry's type needs its block; report it lazily as unknown
		// (0) so readdir does not read every child block.
		ents = append(ents, fuse.DirEntry{Name: n})
	}
	return fs.NewListDirStream(ents), 0
}

type linkNode struct {
	fs.Inode
	target []byte
}

var _ = (fs.NodeReadlinker)((*linkNode)(nil))
var _ = (fs.NodeGetattrer)((*linkNode)(nil))

func (l *linkNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setAttr(&out.Attr, storefs.Entry{Kind: storefs.KindSymlink, Size: uint64(len(l.target))})
	return 0
}

func (l *linkNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return l.target, 0
}

// leaf is one data block of a file at a file offset.
type leaf struct {
	off  uint64
	size uint64
	c    cid.Cid
	data []byte // inline data (a dag-pb root that is its own only leaf)
}

// fileNode is a UnixFS file. Its leaf layout is computed once from the
// internal nodes and kept (offset, size and CID of each leaf), so a read
// costs only the leaves it touches: no database, no tree walk, and no
// leaf read before it is needed.
type fileNode struct {
	fs.Inode
	fsys    *filesystem
	nd      ipld.Node
	size    uint64
	refs    storefs.SelfRefs
	rootStr []byte

	once   sync.Once
	leaves []leaf
	err    error

	lastEnd atomic.Int64 // end offset of the last read, to spot sequential reads
}

var _ = (fs.NodeOpener)((*fileNode)(nil))
var _ = (fs.NodeFlusher)((*fileNode)(nil))
var _ = (fs.NodeReader)((*fileNode)(nil))
var _ = (fs.NodeGetattrer)((*fileNode)(nil))

func (f *fileNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return f.fsys.getattr("stat file", f.nd, out)
}

// Open answers ENOSYS: with FUSE_NO_OPEN_SUPPORT the kernel then stops
// sending OPEN (and RELEASE) for every file of the mount and keeps the page
// cache across opens (no_open implies FOPEN_KEEP_CACHE), which saves a
// round trip per open of a small file. Writes are already refused by the
// read-only mount (EROFS) before they get here.
func (f *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EROFS
	}
	if f.fsys.noOpen {
		return nil, 0, syscall.ENOSYS
	}
	// Immutable content: keep the kernel's page cache across opens.
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

// Flush answers ENOSYS so the kernel stops sending FLUSH on every close:
// there is nothing to flush in a read-only view.
func (f *fileNode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// lazyLeafMax: a dag-pb child whose subtree holds at most this many bytes
// is taken for a leaf and read only when a request needs it (loadLeaf); a
// larger one is an internal node (our leaves hold 256 KiB), read and
// decoded by layout. A few internal nodes per 43 MiB of file (174 leaves
// each) are read up front, never the leaves.
const lazyLeafMax = 1 << 20

// layout lists the file's leaves with their offsets, decoding only the
// internal nodes (the root is already verified), so opening a large file
// or reading its first bytes does not read all of it.
func (f *fileNode) layout() error {
	f.once.Do(func() {
		var walk func(nd ipld.Node, off uint64) error
		walk = func(nd ipld.Node, off uint64) error {
			switch n := nd.(type) {
			case *merkledag.RawNode:
				f.leaves = append(f.leaves, leaf{off: off, size: uint64(len(n.RawData())), data: n.RawData()})
				return nil
			case *merkledag.ProtoNode:
				fsn, err := unixfs.FSNodeFromBytes(n.Data())
				if err != nil {
					return err
				}
				if d := fsn.Data(); len(d) > 0 {
					f.leaves = append(f.leaves, leaf{off: off, size: uint64(len(d)), data: d})
					off += uint64(len(d))
				}
				links := n.Links()
				if len(links) != fsn.NumChildren() {
					return fmt.Errorf("file node %s: %d links but %d block sizes", n.Cid(), len(links), fsn.NumChildren())
				}
				for i, l := range links {
					// The size comes from the verified parent; loadLeaf
					// checks the child against it.
					bs := fsn.BlockSize(i)
					if l.Cid.Type() == cid.Raw || bs <= lazyLeafMax {
						f.leaves = append(f.leaves, leaf{off: off, size: bs, c: l.Cid})
					} else {
						child, err := f.fsys.s.GetNode(l.Cid)
						if err != nil {
							return err
						}
						if err := walk(child, off); err != nil {
							return err
						}
					}
					off += bs
				}
				return nil
			default:
				return fmt.Errorf("unexpected node type %T", nd)
			}
		}
		f.err = walk(f.nd, 0)
	})
	return f.err
}

// loadLeaf returns the cached block of leaf l (see blockCache.acquire):
// read into a recycled buffer, hash-checked once, its file bytes a slice
// of that buffer (FileLeafData). A small internal node taken for a leaf
// (at most lazyLeafMax bytes under it, e.g. the last node of a level)
// holds its subtree's bytes instead, read through the store's verified
// DAG. The caller releases the entry.
func (f *fileNode) loadLeaf(l *leaf) (*cachedBlock, error) {
	return f.fsys.blocks.acquire(l.c, func(buf []byte) ([]byte, []byte, error) {
		blk, err := f.fsys.s.ReadBlockInto(l.c, buf)
		if err != nil {
			return nil, nil, err
		}
		data, links, err := storefs.FileLeafData(l.c, blk)
		if err != nil {
			return nil, nil, err
		}
		if links {
			if data, err = f.subtree(l.c); err != nil {
				return nil, nil, err
			}
			// The subtree's bytes are the entry (and what the cache
			// counts); buf goes back to the cache.
			blk = data
		}
		if uint64(len(data)) != l.size {
			return nil, nil, fmt.Errorf("block %s holds %d bytes of the file, its parent says %d", l.c, len(data), l.size)
		}
		return blk, data, nil
	})
}

// subtree reads the file bytes under internal node c, every block
// hash-checked.
func (f *fileNode) subtree(c cid.Cid) ([]byte, error) {
	nd, err := f.fsys.s.GetNode(c)
	if err != nil {
		return nil, err
	}
	dr, err := uio.NewDagReader(context.Background(), nd, f.fsys.s.DAG())
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	return io.ReadAll(dr)
}

// readaheadLeaves is how many leaves past a sequential read are read and
// hash-checked in the background (4 MiB of 256 KiB leaves), on top of the
// kernel's own readahead, so leaves are hashed on other cores before the
// kernel asks. A variable for the benchmark's comparison.
var readaheadLeaves = 16

// readaheadWorkers bounds background leaf reads of all mounts.
var readaheadWorkers = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// readahead starts background reads of the leaves after index from that
// are neither cached nor being read. Errors are dropped: a failed load is
// not cached, so the reader that needs the leaf reads it again and gets
// its own EIO.
func (f *fileNode) readahead(from int) {
	for i := from; i < min(from+readaheadLeaves, len(f.leaves)); i++ {
		l := &f.leaves[i]
		if l.data != nil || f.fsys.blocks.has(l.c) {
			continue
		}
		select {
		case readaheadWorkers <- struct{}{}:
		default:
			return // all workers busy: the read is ahead enough
		}
		go func() {
			defer func() { <-readaheadWorkers }()
			if e, err := f.loadLeaf(l); err == nil {
				f.fsys.blocks.release(e)
			}
		}()
	}
}

// blockResult hands a slice of a cached block to go-fuse, which writes it
// to the kernel straight from the cache's buffer and then calls Done.
type blockResult struct {
	bc   *blockCache
	e    *cachedBlock
	data []byte
	done atomic.Bool
}

func (r *blockResult) Bytes(buf []byte) ([]byte, fuse.Status) { return r.data, fuse.OK }
func (r *blockResult) Size() int                              { return len(r.data) }
func (r *blockResult) Done() {
	if !r.done.Swap(true) {
		r.bc.release(r.e)
	}
}

func (f *fileNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if len(f.refs.Offsets) > 0 && len(f.rootStr) != f.refs.Len {
		return nil, f.fsys.eio("read", fmt.Errorf("self-reference of %d bytes cannot hold %s", f.refs.Len, f.rootStr))
	}
	if err := f.layout(); err != nil {
		return nil, f.fsys.eio("layout of "+f.nd.Cid().String(), err)
	}
	if off < 0 {
		return nil, syscall.EINVAL
	}
	if uint64(off) >= f.size {
		return fuse.ReadResultData(nil), 0
	}
	end := min(uint64(off)+uint64(len(dest)), f.size)
	// First leaf that ends after off.
	lo, hi := 0, len(f.leaves)
	for lo < hi {
		m := (lo + hi) / 2
		if f.leaves[m].off+f.leaves[m].size <= uint64(off) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	hi = lo
	for hi < len(f.leaves) && f.leaves[hi].off < end {
		hi++
	}
	// A read that continues where the last one ended is sequential: read
	// the next leaves ahead.
	if last := f.lastEnd.Swap(int64(end)); last == off && hi < len(f.leaves) {
		f.readahead(hi)
	}
	// The common case (requests of max_read = one leaf): the verified
	// bytes go to the kernel from the cache's buffer, no copy.
	if hi-lo == 1 && f.leaves[lo].data == nil && len(f.refs.Offsets) == 0 {
		l := &f.leaves[lo]
		e, err := f.loadLeaf(l)
		if err != nil {
			return nil, f.fsys.eio(fmt.Sprintf("read %s at %d", f.nd.Cid(), off), err)
		}
		from := uint64(off) - l.off
		to := end - l.off
		return &blockResult{bc: f.fsys.blocks, e: e, data: e.data[from:to]}, 0
	}
	// Otherwise read (in parallel) and copy every leaf the request spans.
	ents := make([]*cachedBlock, hi-lo)
	errs := make([]error, hi-lo)
	defer func() {
		for _, e := range ents {
			if e != nil {
				f.fsys.blocks.release(e)
			}
		}
	}()
	get := func(i int) {
		if f.leaves[i].data == nil {
			ents[i-lo], errs[i-lo] = f.loadLeaf(&f.leaves[i])
		}
	}
	if hi-lo > 1 {
		var wg sync.WaitGroup
		for i := lo; i < hi; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				get(i)
			}()
		}
		wg.Wait()
	} else if hi > lo {
		get(lo)
	}
	n := 0
	for i := lo; i < hi; i++ {
		l := &f.leaves[i]
		if err := errs[i-lo]; err != nil {
			return nil, f.fsys.eio(fmt.Sprintf("read %s at %d", f.nd.Cid(), off), err)
		}
		d := l.data
		if d == nil {
			d = ents[i-lo].data
		}
		from := max(uint64(off), l.off) - l.off
		to := min(end, l.off+l.size) - l.off
		n += copy(dest[n:], d[from:to])
	}
	f.refs.Patch(dest[:n], off, f.rootStr)
	return fuse.ReadResultData(dest[:n]), 0
}

// Unmount helper for callers that hold only the mount point.
func Unmount(dir string) error {
	if err := syscall.Unmount(dir, 0); err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// Available reports whether FUSE mounts can work here (and why not).
func Available() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("no /dev/fuse: %w", err)
	}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			if _, err2 := exec.LookPath("fusermount"); err2 != nil {
				return errors.New("not root and no fusermount3/fusermount")
			}
		}
	}
	return nil
}
