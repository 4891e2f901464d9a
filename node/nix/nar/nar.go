// Package nar writes and reads Nix archives (NAR, the serialisation Nix hashes and ships
// store paths in) between our store (node/storefs) or a directory and a byte stream. The
// format itself is github.com/nix-community/go-nix's nar package; this one walks our store,
// restores safely and counts the hash Nix checks (NarHash, NarSize).
//
// A NAR records only what Nix keeps of a file: regular (with an executable flag), directory
// (entries sorted by name) or symlink. Files in our store carry their mode when added with
// PreserveMode (build outputs, imported sources); a file without a recorded mode is not
// executable.
package nar

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/ipfs/go-cid"
	gonar "github.com/nix-community/go-nix/pkg/nar"

	"github.com/buildchain/buildchain/node/storefs"
)

// ErrMalformed: the bytes are not a complete, canonical NAR (truncated, unsorted entries,
// bad names, trailing bytes).
var ErrMalformed = errors.New("malformed NAR")

// DumpStore writes the NAR of the store path root to w.
func DumpStore(ctx context.Context, w io.Writer, s *storefs.Store, root cid.Cid) error {
	nw, err := gonar.NewWriter(w)
	if err != nil {
		return err
	}
	top, err := s.Stat(ctx, root, "")
	if err != nil {
		_ = nw.Close()
		return err
	}
	if err := dumpEntry(ctx, nw, s, root, "", top); err != nil {
		_ = nw.Close()
		return fmt.Errorf("NAR of %s: %w", root, err)
	}
	return nw.Close()
}

func dumpEntry(ctx context.Context, nw *gonar.Writer, s *storefs.Store, root cid.Cid, p string, e storefs.Entry) error {
	narPath := "/" + p
	switch e.Kind {
	case storefs.KindSymlink:
		return nw.WriteHeader(&gonar.Header{Path: narPath, Type: gonar.TypeSymlink, LinkTarget: e.Target})
	case storefs.KindDir:
		if err := nw.WriteHeader(&gonar.Header{Path: narPath, Type: gonar.TypeDirectory}); err != nil {
			return err
		}
		ents, err := s.List(ctx, root, p) // sorted by name, bytewise, as NAR wants
		if err != nil {
			return err
		}
		for _, ch := range ents {
			if err := dumpEntry(ctx, nw, s, root, path.Join(p, ch.Name), ch); err != nil {
				return err
			}
		}
		return nil
	default:
		f, err := s.OpenFile(ctx, root, p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := nw.WriteHeader(&gonar.Header{Path: narPath, Type: gonar.TypeRegular, Size: int64(f.Size()), Executable: e.Mode&0o100 != 0}); err != nil {
			return err
		}
		_, err = io.Copy(nw, f)
		return err
	}
}

// DumpDir writes the NAR of a file, directory or symlink on disk (Nix's dumpPath).
func DumpDir(w io.Writer, p string) error { return gonar.DumpPath(w, p) }

// Counter hashes and counts what is written through it: NarHash and NarSize of a NAR.
type Counter struct {
	h hash.Hash
	n int64
}

// NewCounter returns a sha256 counter.
func NewCounter() *Counter { return &Counter{h: sha256.New()} }

func (c *Counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// Sum returns the sha256 and the size of everything written.
func (c *Counter) Sum() (digest [sha256.Size]byte, size int64) {
	copy(digest[:], c.h.Sum(nil))
	return digest, c.n
}

// HashStore returns NarHash (sha256) and NarSize of a store path.
func HashStore(ctx context.Context, s *storefs.Store, root cid.Cid) ([sha256.Size]byte, int64, error) {
	c := NewCounter()
	if err := DumpStore(ctx, c, s, root); err != nil {
		return [sha256.Size]byte{}, 0, err
	}
	d, n := c.Sum()
	return d, n, nil
}

// Restore unpacks the NAR read from r at dest, which must not exist: files 0444 (0555 when
// executable), directories 0555, as in a Nix store. On any error (a truncated or malformed
// NAR, trailing bytes, padding that is not zeros or missing) nothing is left at dest. What it
// restores dumps back to exactly the bytes it read.
func Restore(r io.Reader, dest string) (err error) {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("restore NAR: %s exists", dest)
	}
	defer func() {
		if err != nil {
			removeAll(dest)
		}
	}()
	// The parser never reads past the root node's closing token, so an end of input while it
	// reads is a truncation; go-nix would report it as io.EOF, the same as the end of the
	// archive, and a truncated NAR would restore as a shorter tree.
	in := NewCounter() // what the parser consumed, to compare with the NAR of the result
	nr, err := gonar.NewReader(truncationReader{io.TeeReader(r, in)})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer nr.Close()
	var dirs []string
	for {
		hdr, err := nr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, unexpected(err))
		}
		target := filepath.Join(dest, filepath.FromSlash(hdr.Path))
		switch hdr.Type {
		case gonar.TypeDirectory:
			if err := os.Mkdir(target, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, target)
		case gonar.TypeSymlink:
			if err := os.Symlink(hdr.LinkTarget, target); err != nil {
				return err
			}
		case gonar.TypeRegular:
			mode := os.FileMode(0o444)
			if hdr.Executable {
				mode = 0o555
			}
			if err := writeFile(target, nr, hdr.Size, mode); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: entry %s of type %q", ErrMalformed, hdr.Path, hdr.Type)
		}
	}
	// go-nix stops after the root node: anything after it is not part of a NAR.
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return fmt.Errorf("%w: trailing bytes after the archive", ErrMalformed)
	}
	// go-nix skips the padding after each string without checking it (the error of closing a
	// string's reader is dropped), so padding of other bytes, or a last padding cut off, would
	// pass: the tree's own NAR must be the input (FuzzRestore found a cut-off one).
	out := NewCounter()
	if err := DumpDir(out, dest); err != nil {
		return err
	}
	hin, nin := in.Sum()
	hout, nout := out.Sum()
	if hin != hout || nin != nout {
		return fmt.Errorf("%w: not canonical (%d bytes read, the restored tree's NAR has %d)", ErrMalformed, nin, nout)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i], 0o555); err != nil {
			return err
		}
	}
	return nil
}

type truncationReader struct{ r io.Reader }

func (t truncationReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func writeFile(target string, r io.Reader, size int64, mode os.FileMode) error {
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, target, unexpected(err))
	}
	if n != size {
		return fmt.Errorf("%w: %s: %d of %d bytes", ErrMalformed, target, n, size)
	}
	return os.Chmod(target, mode)
}

// removeAll deletes a partly restored tree (its directories may already be read-only).
func removeAll(dir string) {
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}
