package fusefs

import (
	"context"
	"errors"
	"fmt"
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

// defaultReadaheadKiB is the readahead window Mount sets. The kernel gives
// a FUSE mount 128 KiB (whatever max_readahead the server asks for), so a
// cold sequential read of a large file costs a round trip per 128 KiB and
// reads each 256 KiB leaf in two requests; with 4 MiB the kernel sends 1
// MiB requests (max_read), several at once, and their leaves are read and
// hashed in parallel (fileNode.Read). Measured: 130 requests for a 16 MiB
// file instead of 19.
const defaultReadaheadKiB = 4096

// Mount mounts the view of s at dir and serves it in the background; call
// Unmount (or fusermount3 -u) to stop, Wait to block until then.
func Mount(s *storefs.Store, dir string, opts Options) (*fuse.Server, error) {
	long := time.Hour
	neg := time.Second // a CID that is absent now may be added soon
	root := &rootNode{fsys: &filesystem{s: s, log: opts.Logger, noOpen: !opts.SendOpens}}
	o := &fs.Options{
		EntryTimeout:    &long,
		AttrTimeout:     &long,
		NegativeTimeout: &neg,
		MountOptions: fuse.MountOptions{
			AllowOther:           opts.AllowOther,
			FsName:               fsNamePrefix + s.Root(), // see MountedStore
			Name:                 "buildchain",
			MaxWrite:             1 << 20, // also max_read: large reads
			MaxReadAhead:         1 << 20,
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
	leaves leafCache
}

// leafCache keeps the last few verified leaves of the whole mount: the
// kernel often reads a 256 KiB leaf in several requests, and rehashing it
// each time would double the cost of a cold read; readahead (fileNode.Read)
// puts the next leaves of a sequential read here before the kernel asks.
// It is small and shared so that memory does not grow with the number of
// files read (ring × 256 KiB, plus at most readaheadWorkers leaves being
// read). A leaf being read is in loading, so a reader and the readahead
// never read and hash the same leaf twice.
type leafCache struct {
	mu   sync.Mutex
	ring [64]struct {
		c    cid.Cid
		data []byte
	}
	next    int
	loading map[cid.Cid]*leafLoad
}

type leafLoad struct {
	done chan struct{}
	data []byte
	err  error
}

func (lc *leafCache) getLocked(c cid.Cid) []byte {
	for i := range lc.ring {
		if lc.ring[i].c == c && lc.ring[i].data != nil {
			return lc.ring[i].data
		}
	}
	return nil
}

// load returns leaf c from the cache, waits for a read of it in progress,
// or reads it with read (once, whoever asks first) and caches it.
func (lc *leafCache) load(c cid.Cid, read func() ([]byte, error)) ([]byte, error) {
	lc.mu.Lock()
	if d := lc.getLocked(c); d != nil {
		lc.mu.Unlock()
		return d, nil
	}
	if l, ok := lc.loading[c]; ok {
		lc.mu.Unlock()
		<-l.done
		return l.data, l.err
	}
	l := &leafLoad{done: make(chan struct{})}
	if lc.loading == nil {
		lc.loading = map[cid.Cid]*leafLoad{}
	}
	lc.loading[c] = l
	lc.mu.Unlock()

	l.data, l.err = read()
	lc.mu.Lock()
	delete(lc.loading, c)
	if l.err == nil {
		lc.ring[lc.next].c, lc.ring[lc.next].data = c, l.data
		lc.next = (lc.next + 1) % len(lc.ring)
	}
	lc.mu.Unlock()
	close(l.done)
	return l.data, l.err
}

// has reports whether c is cached or being read.
func (lc *leafCache) has(c cid.Cid) bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	_, loading := lc.loading[c]
	return loading || lc.getLocked(c) != nil
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
// internal nodes (read and verified once) and kept, so a read costs only
// the leaf blocks it touches: no database, no tree walk.
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

func (f *fileNode) layout() error {
	f.once.Do(func() {
		var walk func(nd ipld.Node, off uint64) error
		walk = func(nd ipld.Node, off uint64) error {
			switch n := nd.(type) {
			case *merkledag.RawNode:
				f.leaves = append(f.leaves, leaf{off: off, size: uint64(len(n.RawData())), c: n.Cid()})
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
					bs := fsn.BlockSize(i)
					if l.Cid.Type() == cid.Raw {
						// Raw leaves are read lazily; their size comes from
						// the verified parent.
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

// leafData returns the verified bytes of a leaf.
func (f *fileNode) leafData(l *leaf) ([]byte, error) {
	if l.data != nil {
		return l.data, nil
	}
	return f.fsys.leaves.load(l.c, func() ([]byte, error) {
		d, err := f.fsys.s.GetBlock(l.c)
		if err != nil {
			return nil, err
		}
		if uint64(len(d)) != l.size {
			return nil, fmt.Errorf("leaf %s has %d bytes, parent says %d", l.c, len(d), l.size)
		}
		return d, nil
	})
}

// readaheadLeaves is how many leaves past a sequential read are read and
// hash-checked in the background (4 MiB of 256 KiB leaves): the kernel's
// own readahead stops at max_readahead (1 MiB), and hashing is the cost of
// a cold read, so the next leaves are hashed on other cores while the
// current ones are copied out. A variable for the benchmark's comparison.
var readaheadLeaves = 16

// readaheadWorkers bounds background leaf reads of the whole mount.
var readaheadWorkers = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// readahead starts background reads of the leaves after index from that
// are neither cached nor being read. Errors are dropped: the reader that
// needs the leaf reads it again and gets its own EIO.
func (f *fileNode) readahead(from int) {
	for i := from; i < min(from+readaheadLeaves, len(f.leaves)); i++ {
		l := &f.leaves[i]
		if l.data != nil || f.fsys.leaves.has(l.c) {
			continue
		}
		select {
		case readaheadWorkers <- struct{}{}:
		default:
			return // all workers busy: the read is ahead enough
		}
		go func() {
			defer func() { <-readaheadWorkers }()
			_, _ = f.leafData(l)
		}()
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
	// A large request spans several leaves: read and verify them in
	// parallel (hashing is the cost of a cold read).
	datas := make([][]byte, hi-lo)
	errs := make([]error, hi-lo)
	if hi-lo > 1 {
		var wg sync.WaitGroup
		for i := lo; i < hi; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				datas[i-lo], errs[i-lo] = f.leafData(&f.leaves[i])
			}()
		}
		wg.Wait()
	} else if hi > lo {
		datas[0], errs[0] = f.leafData(&f.leaves[lo])
	}
	n := 0
	for i := lo; i < hi; i++ {
		l := &f.leaves[i]
		d, err := datas[i-lo], errs[i-lo]
		if err != nil {
			return nil, f.fsys.eio(fmt.Sprintf("read %s at %d", f.nd.Cid(), off), err)
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
