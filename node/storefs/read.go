package storefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Kind of a UnixFS entry.
type Kind int

const (
	KindFile Kind = iota
	KindDir
	KindSymlink
)

func (k Kind) String() string {
	switch k {
	case KindDir:
		return "dir"
	case KindSymlink:
		return "symlink"
	default:
		return "file"
	}
}

// Entry describes one UnixFS node.
type Entry struct {
	Name   string
	CID    cid.Cid
	Kind   Kind
	Size   uint64      // file size (files), target length (symlinks)
	Mode   os.FileMode // UnixFS mode, 0 when not recorded
	Target string      // symlink target
}

// StatNode describes node nd.
func StatNode(name string, nd ipld.Node) (Entry, error) {
	e := Entry{Name: name, CID: nd.Cid()}
	switch n := nd.(type) {
	case *merkledag.RawNode:
		e.Kind = KindFile
		e.Size = uint64(len(n.RawData()))
		return e, nil
	case *merkledag.ProtoNode:
		fsn, err := unixfs.FSNodeFromBytes(n.Data())
		if err != nil {
			return e, fmt.Errorf("node %s: not UnixFS: %w", nd.Cid(), err)
		}
		e.Mode = unixfsMode(fsn)
		switch fsn.Type() {
		case unixfs.TDirectory, unixfs.THAMTShard:
			e.Kind = KindDir
		case unixfs.TSymlink:
			e.Kind = KindSymlink
			e.Target = string(fsn.Data())
			e.Size = uint64(len(e.Target))
		case unixfs.TFile, unixfs.TRaw:
			e.Kind = KindFile
			e.Size = fsn.FileSize()
		default:
			return e, fmt.Errorf("node %s: unsupported UnixFS type %v", nd.Cid(), fsn.Type())
		}
		return e, nil
	default:
		return e, fmt.Errorf("node %s: unsupported node type %T", nd.Cid(), nd)
	}
}

// unixfsMode keeps the permission, setuid, setgid and sticky bits.
func unixfsMode(fsn *unixfs.FSNode) os.FileMode {
	m := fsn.Mode()
	return m & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
}

// SymlinkTarget returns a symlink node's target with its self-references
// (if any) written back as root.
func SymlinkTarget(nd ipld.Node, root cid.Cid) (string, error) {
	e, err := StatNode("", nd)
	if err != nil {
		return "", err
	}
	if e.Kind != KindSymlink {
		return "", fmt.Errorf("node %s is not a symlink", nd.Cid())
	}
	refs, err := FileSelfRefs(nd)
	if err != nil || len(refs.Offsets) == 0 {
		return e.Target, err
	}
	val := []byte(root.String())
	if len(val) != refs.Len {
		return "", fmt.Errorf("symlink %s: self-reference of %d bytes cannot hold root %s", nd.Cid(), refs.Len, root)
	}
	b := []byte(e.Target)
	refs.Patch(b, 0, val)
	return string(b), nil
}

// Resolve walks path p (slash-separated, may be empty) from root.
func (s *Store) Resolve(ctx context.Context, root cid.Cid, p string) (ipld.Node, error) {
	nd, err := s.GetNode(root)
	if err != nil {
		return nil, err
	}
	rootStr := []byte(root.String())
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if name == "" || name == "." {
			continue
		}
		dir, err := uio.NewDirectoryFromNode(s.DAG(), nd)
		if err != nil {
			return nil, fmt.Errorf("resolve %s/%s: %q is not a directory", root, p, name)
		}
		refs, err := DirNameRefs(nd)
		if err != nil {
			return nil, fmt.Errorf("resolve %s/%s: directory %s: %w", root, p, nd.Cid(), err)
		}
		stored, ok := refs.Stored(name, rootStr)
		if !ok {
			return nil, fmt.Errorf("resolve %s/%s: no entry %q", root, p, name)
		}
		nd, err = dir.Find(ctx, stored)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || ipld.IsNotFound(err) && !errors.Is(err, ErrNotFound) {
				return nil, fmt.Errorf("resolve %s/%s: no entry %q", root, p, name)
			}
			return nil, fmt.Errorf("resolve %s/%s: %w", root, p, err)
		}
	}
	return nd, nil
}

// ParsePath splits "cid/sub/path" (optionally prefixed by /ipfs/ or
// /ipfs/store/) into its CID and the rest.
func ParsePath(arg string) (cid.Cid, string, error) {
	a := strings.TrimPrefix(arg, "/ipfs/store/")
	a = strings.TrimPrefix(a, "/ipfs/")
	a = strings.TrimPrefix(a, "/")
	first, rest, _ := strings.Cut(a, "/")
	c, err := cid.Decode(first)
	if err != nil {
		return cid.Undef, "", fmt.Errorf("malformed CID %q: %w", first, err)
	}
	return c, rest, nil
}

// List returns the entries of the directory at root/p in name order.
func (s *Store) List(ctx context.Context, root cid.Cid, p string) ([]Entry, error) {
	nd, err := s.Resolve(ctx, root, p)
	if err != nil {
		return nil, err
	}
	dir, err := uio.NewDirectoryFromNode(s.DAG(), nd)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: not a directory", root, p)
	}
	links, err := dir.Links(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", root, p, err)
	}
	refs, err := DirNameRefs(nd)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", root, p, err)
	}
	rootStr := []byte(root.String())
	out := make([]Entry, 0, len(links))
	for _, l := range links {
		child, err := s.GetNode(l.Cid)
		if err != nil {
			return nil, fmt.Errorf("list %s/%s: %w", root, p, err)
		}
		e, err := StatNode(refs.Shown(l.Name, rootStr), child)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sortEntries(out)
	return out, nil
}

func sortEntries(es []Entry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].Name < es[j-1].Name; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// FileReader reads a UnixFS file with every block hash-checked and its
// self-references written back as the root CID.
type FileReader struct {
	dr   uio.DagReader // not embedded: its WriteTo would bypass patching
	refs SelfRefs
	val  []byte
	off  int64
}

// Read implements io.Reader.
func (r *FileReader) Read(p []byte) (int, error) {
	n, err := r.dr.Read(p)
	if n > 0 {
		r.refs.Patch(p[:n], r.off, r.val)
		r.off += int64(n)
	}
	return n, err
}

// Seek implements io.Seeker.
func (r *FileReader) Seek(off int64, whence int) (int64, error) {
	n, err := r.dr.Seek(off, whence)
	if err == nil {
		r.off = n
	}
	return n, err
}

// Close releases the reader.
func (r *FileReader) Close() error { return r.dr.Close() }

// Size is the file's size in bytes.
func (r *FileReader) Size() uint64 { return r.dr.Size() }

// OpenFile opens the file at root/p. Self-references are resolved to root.
func (s *Store) OpenFile(ctx context.Context, root cid.Cid, p string) (*FileReader, error) {
	nd, err := s.Resolve(ctx, root, p)
	if err != nil {
		return nil, err
	}
	return s.openNode(ctx, nd, root)
}

func (s *Store) openNode(ctx context.Context, nd ipld.Node, root cid.Cid) (*FileReader, error) {
	refs, err := FileSelfRefs(nd)
	if err != nil {
		return nil, err
	}
	val := []byte(root.String())
	if len(refs.Offsets) > 0 && len(val) != refs.Len {
		return nil, fmt.Errorf("file %s: self-reference of %d bytes cannot hold root %s", nd.Cid(), refs.Len, root)
	}
	dr, err := uio.NewDagReader(ctx, nd, s.DAG())
	if err != nil {
		if errors.Is(err, uio.ErrIsDir) {
			return nil, fmt.Errorf("open %s: is a directory", nd.Cid())
		}
		return nil, fmt.Errorf("open %s: %w", nd.Cid(), err)
	}
	return &FileReader{dr: dr, refs: refs, val: val}, nil
}

// Cat writes the file at root/p to w.
func (s *Store) Cat(ctx context.Context, root cid.Cid, p string, w io.Writer) error {
	r, err := s.OpenFile(ctx, root, p)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("cat %s/%s: %w", root, p, err)
	}
	return nil
}

// Export materialises the UnixFS tree c at dest (which must not exist):
// directories, files with their recorded modes (0644/0755 defaults when
// none), symlinks, and self-references written back as c.
func (s *Store) Export(ctx context.Context, c cid.Cid, dest string) error {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("export %s: %s already exists", c, dest)
	}
	nd, err := s.GetNode(c)
	if err != nil {
		return fmt.Errorf("export %s: %w", c, err)
	}
	if err := s.exportNode(ctx, nd, c, dest); err != nil {
		return fmt.Errorf("export %s: %w", c, err)
	}
	return nil
}

// ExportNode materialises node nd (reached from root, which self-references
// resolve to) at dest, which must not exist.
func (s *Store) ExportNode(ctx context.Context, nd ipld.Node, root cid.Cid, dest string) error {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("export %s: %s already exists", nd.Cid(), dest)
	}
	if err := s.exportNode(ctx, nd, root, dest); err != nil {
		return fmt.Errorf("export %s: %w", nd.Cid(), err)
	}
	return nil
}

func (s *Store) exportNode(ctx context.Context, nd ipld.Node, root cid.Cid, dest string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, err := StatNode(filepath.Base(dest), nd)
	if err != nil {
		return err
	}
	switch e.Kind {
	case KindSymlink:
		t, err := SymlinkTarget(nd, root)
		if err != nil {
			return err
		}
		return os.Symlink(t, dest)
	case KindDir:
		if err := os.Mkdir(dest, 0o755); err != nil {
			return err
		}
		dir, err := uio.NewDirectoryFromNode(s.DAG(), nd)
		if err != nil {
			return err
		}
		links, err := dir.Links(ctx)
		if err != nil {
			return err
		}
		refs, err := DirNameRefs(nd)
		if err != nil {
			return fmt.Errorf("directory %s: %w", nd.Cid(), err)
		}
		rootStr := []byte(root.String())
		for _, l := range links {
			name := refs.Shown(l.Name, rootStr)
			if err := validName("entry", name); err != nil {
				return fmt.Errorf("directory %s: %w", nd.Cid(), err)
			}
			child, err := s.GetNode(l.Cid)
			if err != nil {
				return err
			}
			if err := s.exportNode(ctx, child, root, filepath.Join(dest, name)); err != nil {
				return err
			}
		}
		if e.Mode != 0 {
			// World-readable: store content is public, and builds read
			// exported inputs as another uid.
			return os.Chmod(dest, e.Mode|0o555)
		}
		return nil
	default:
		r, err := s.openNode(ctx, nd, root)
		if err != nil {
			return err
		}
		defer r.Close()
		mode := e.Mode | 0o444 // world-readable, see above
		if e.Mode == 0 {
			mode = 0o644
		}
		f, err := os.OpenFile(dest, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			os.Remove(dest)
			return fmt.Errorf("%s: %w", dest, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Chmod(dest, mode)
	}
}

// Stat describes root/p.
func (s *Store) Stat(ctx context.Context, root cid.Cid, p string) (Entry, error) {
	nd, err := s.Resolve(ctx, root, p)
	if err != nil {
		return Entry{}, err
	}
	name := filepath.Base("/" + p)
	if p == "" {
		name = root.String()
	}
	return StatNode(name, nd)
}
