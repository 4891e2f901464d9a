package deb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// arMagic starts every ar archive, and so every .deb.
const arMagic = "!<arch>\n"

// UsrMerged are the top-level directories Debian merges into /usr (usrmerge): their
// contents are extracted under usr/ and the directory itself becomes a relative symlink, so
// paths a package or a linker script names (/lib/x86_64-linux-gnu/libc.so.6) still resolve.
var UsrMerged = []string{"bin", "lib", "lib32", "lib64", "libx32", "sbin"}

// dataMember finds the data.tar.* member of a .deb (an ar archive) and returns a reader of
// the uncompressed tar stream. A .deb that ends early is ErrTruncated; one that is not a
// .deb is ErrFormat.
func dataMember(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, truncated("ar header", err)
	}
	if string(magic) != arMagic {
		return nil, fmt.Errorf("%w: not an ar archive", ErrFormat)
	}
	for {
		var hdr [60]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF {
				return nil, fmt.Errorf("%w: no data.tar member", ErrFormat)
			}
			return nil, truncated("ar member header", err)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, fmt.Errorf("%w: bad ar member header", ErrFormat)
		}
		name := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("%w: bad size in ar member %q", ErrFormat, name)
		}
		if strings.HasPrefix(name, "data.tar") {
			body := &exactReader{r: io.LimitReader(br, size), left: size, what: "data member"}
			switch strings.TrimPrefix(name, "data.tar") {
			case ".xz":
				zr, err := xz.NewReader(body)
				if err != nil {
					return nil, corrupt(name, err)
				}
				return zr, nil
			case ".zst":
				zr, err := zstd.NewReader(body)
				if err != nil {
					return nil, corrupt(name, err)
				}
				return zr.IOReadCloser(), nil
			case ".gz":
				zr, err := gzip.NewReader(body)
				if err != nil {
					return nil, corrupt(name, err)
				}
				return zr, nil
			case "":
				return body, nil
			default:
				return nil, fmt.Errorf("%w: unknown compression of %s", ErrFormat, name)
			}
		}
		// Members are padded to an even size.
		if _, err := io.CopyN(io.Discard, br, size+size%2); err != nil {
			return nil, truncated("ar member "+name, err)
		}
	}
}

// exactReader reports a member that ends before its declared size as truncated.
type exactReader struct {
	r    io.Reader
	left int64
	what string
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, truncated(e.what, io.ErrUnexpectedEOF)
	}
	return n, err
}

func truncated(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrTruncated) {
		return fmt.Errorf("%w: %s ends early", ErrTruncated, what)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

func corrupt(what string, err error) error {
	if errors.Is(err, ErrTruncated) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s ends early", ErrTruncated, what)
	}
	return fmt.Errorf("%w: %s: %v", ErrFormat, what, err)
}

// Extract unpacks the files of the .deb at debPath into dst, as dpkg would but without it and
// without running maintainer scripts: paths under the usrmerged directories go to usr/, absolute
// symlinks become relative (so the tree means the same wherever it lies, e.g. in the store),
// setuid/setgid bits are dropped and owners ignored. A file another package already put there
// with other content is an error (ErrConflict), as in dpkg.
func Extract(debPath, dst string) error { return ExtractAll([]string{debPath}, dst) }

// ExtractAll extracts several .debs into dst, in order (see Extract). The decompression, most
// of the time, runs in parallel; the files are written one package after the other.
func ExtractAll(debPaths []string, dst string) error {
	type result struct {
		ents []entry
		err  error
	}
	results := make([]chan result, len(debPaths))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, p := range debPaths {
		results[i] = make(chan result, 1)
		go func(p string, out chan<- result) {
			sem <- struct{}{}
			defer func() { <-sem }()
			ents, err := readDeb(p)
			out <- result{ents, err}
		}(p, results[i])
	}
	var firstErr error
	for i, ch := range results {
		r := <-ch // drain all, so no decoder outlives the call
		if firstErr != nil {
			continue
		}
		if r.err == nil {
			r.err = apply(r.ents, dst)
		}
		if r.err != nil {
			firstErr = fmt.Errorf("extract %s: %w", filepath.Base(debPaths[i]), r.err)
		}
	}
	return firstErr
}

// entry is one member of a package's data.tar, mapped into the tree (rel) and decoded.
type entry struct {
	rel    string
	kind   byte // tar type flag
	mode   os.FileMode
	data   []byte // regular files
	target string // symlinks (already relative) and hard links (tree path)
}

func readDeb(p string) ([]entry, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readEntries(f)
}

func readEntries(r io.Reader) ([]entry, error) {
	data, err := dataMember(r)
	if err != nil {
		return nil, err
	}
	if c, ok := data.(io.Closer); ok {
		defer c.Close()
	}
	tr := tar.NewReader(data)
	var ents []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return ents, nil
		}
		if err != nil {
			return nil, corrupt("data.tar", err)
		}
		rel, err := mapPath(h.Name)
		if err != nil {
			return nil, err
		}
		if rel == "" {
			continue // the root directory itself
		}
		e := entry{rel: rel, kind: h.Typeflag}
		switch h.Typeflag {
		case tar.TypeDir:
		case tar.TypeReg:
			e.mode = os.FileMode(h.Mode).Perm() | 0o200 // owner-writable while we build the tree
			if e.data, err = io.ReadAll(tr); err != nil {
				return nil, corrupt(h.Name, err)
			}
		case tar.TypeSymlink:
			if e.target, err = relativeLink(rel, h.Linkname); err != nil {
				return nil, err
			}
		case tar.TypeLink:
			if e.target, err = mapPath(h.Linkname); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: %s has unsupported tar type %q", ErrFormat, h.Name, h.Typeflag)
		}
		ents = append(ents, e)
	}
}

// apply writes a package's entries into dst; hard links become copies (the store has no hard
// links, and a copy hashes the same), made once everything else is written.
func apply(ents []entry, dst string) error {
	var hardlinks []entry
	for _, e := range ents {
		target := filepath.Join(dst, e.rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		switch e.kind {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(target, e.data, e.mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if old, err := os.Readlink(target); err == nil {
				if old == e.target {
					continue
				}
				return fmt.Errorf("%w: %s is a link to %s and to %s", ErrConflict, e.rel, old, e.target)
			}
			if err := os.Symlink(e.target, target); err != nil {
				return err
			}
		case tar.TypeLink:
			hardlinks = append(hardlinks, e)
		}
	}
	for _, l := range hardlinks {
		src := filepath.Join(dst, l.target)
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("%w: hard link %s to %s: %v", ErrFormat, l.rel, l.target, err)
		}
		st, err := os.Stat(src)
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dst, l.rel), data, st.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes data to p, or checks that p already holds exactly those bytes.
func writeFile(p string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(p); err == nil {
		if bytes.Equal(old, data) {
			return nil
		}
		return fmt.Errorf("%w: %s comes from two packages with different content", ErrConflict, p)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	return os.Chmod(p, mode) // not subject to the umask
}

// mapPath turns a tar member name ("./usr/bin/gcc", "./lib/x86_64-linux-gnu/libc.so.6") into a
// clean relative path in the merged-/usr layout, refusing anything that leaves the tree.
func mapPath(name string) (string, error) {
	if c := path.Clean(strings.TrimPrefix(name, "/")); c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: member %q leaves the tree", ErrFormat, name)
	}
	p := path.Clean("/" + name)
	if p == "/" {
		return "", nil
	}
	return strings.TrimPrefix(usrMerge(p), "/"), nil
}

// usrMerge maps an absolute path onto the merged layout (/lib/x → /usr/lib/x).
func usrMerge(p string) string {
	for _, d := range UsrMerged {
		if p == "/"+d || strings.HasPrefix(p, "/"+d+"/") {
			return "/usr" + p
		}
	}
	return p
}

// relativeLink rewrites the target of the symlink at rel (relative to the tree root): an
// absolute target is taken as a path in the tree (usrmerged) and made relative to the link's
// directory; a relative one is kept.
func relativeLink(rel, target string) (string, error) {
	if target == "" {
		return "", fmt.Errorf("%w: symlink %s has an empty target", ErrFormat, rel)
	}
	if !path.IsAbs(target) {
		// A relative link may not point out of the tree (a later member could be written
		// through it).
		if c := path.Join(path.Dir(rel), target); c == ".." || strings.HasPrefix(c, "../") {
			return "", fmt.Errorf("%w: symlink %s -> %s leaves the tree", ErrFormat, rel, target)
		}
		return target, nil
	}
	t := strings.TrimPrefix(usrMerge(path.Clean(target)), "/")
	r, err := filepath.Rel(path.Dir(rel), t)
	if err != nil {
		return "", fmt.Errorf("%w: symlink %s -> %s: %v", ErrFormat, rel, target, err)
	}
	return r, nil
}

// MergeLinks makes each usrmerged top-level directory of dst that has a counterpart under
// usr/ a relative symlink to it (lib -> usr/lib), as a merged-/usr Debian system has.
func MergeLinks(dst string) error {
	for _, d := range UsrMerged {
		if _, err := os.Stat(filepath.Join(dst, "usr", d)); err != nil {
			continue
		}
		if err := os.Symlink(filepath.Join("usr", d), filepath.Join(dst, d)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return nil
}
