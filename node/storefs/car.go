package storefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"

	"github.com/buildchain/buildchain/node/block"
)

// ExportCAR streams the closure of root as a CARv1 (readable by kubo's
// `ipfs dag import` and every other IPFS implementation) to w. Every block
// is hash-checked on the way out; a missing or corrupted block aborts.
func (s *Store) ExportCAR(ctx context.Context, root cid.Cid, w io.Writer) error {
	cl, err := s.Closure(root)
	if err != nil {
		return fmt.Errorf("export car %s: %w", root, err)
	}
	// Hide any io.WriterAt (an *os.File that is a pipe has one): go-car
	// would then write by offset, which fails on pipes; CARv1 streams.
	cw, err := storage.NewWritable(struct{ io.Writer }{w}, []cid.Cid{root}, car.WriteAsCarV1(true))
	if err != nil {
		return fmt.Errorf("export car %s: %w", root, err)
	}
	for _, c := range cl {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, ok := identityData(c); ok {
			continue
		}
		data, err := s.GetBlock(c)
		if err != nil {
			return fmt.Errorf("export car %s: %w", root, err)
		}
		if err := cw.Put(ctx, c.KeyString(), data); err != nil {
			return fmt.Errorf("export car %s: %w", root, err)
		}
	}
	return nil
}

// ImportCAR reads a CAR (v1 or v2) and stores its blocks. It checks every
// block first and stores nothing if any is bad, so a damaged CAR leaves the
// store unchanged. The roots are temp-pinned for this process and returned.
// A non-seekable input is spooled to tmp/ for the two passes.
func (s *Store) ImportCAR(ctx context.Context, r io.Reader) ([]cid.Cid, error) {
	rs, ok := r.(io.ReadSeeker)
	if f, isFile := r.(*os.File); isFile {
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			ok = false
		}
	}
	if !ok {
		tmp, err := os.CreateTemp(s.tmpDir, tmpName()+"-car")
		if err != nil {
			return nil, fmt.Errorf("import car: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, r); err != nil {
			return nil, fmt.Errorf("import car: spool input: %w", err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("import car: spool input: %w", err)
		}
		rs = tmp
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("import car: %w", err)
	}
	// Pass 1: parse and verify everything.
	roots, _, err := s.scanCAR(ctx, rs, nil)
	if err != nil {
		return nil, fmt.Errorf("import car: %w (nothing imported)", err)
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("import car: %w", err)
	}
	// Pass 2: store under the add lock, then temp-pin the roots.
	err = s.WithAddLock(func() error {
		w := s.newWriter()
		if _, _, err := s.scanCAR(ctx, rs, w); err != nil {
			w.abort()
			return err
		}
		if err := w.commit(); err != nil {
			return err
		}
		for _, c := range roots {
			if ok, _ := s.HasBlock(c); ok {
				if err := s.TempPin(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import car: %w", err)
	}
	return roots, nil
}

// scanCAR reads all blocks, verifying each; with w set it also stores them.
func (s *Store) scanCAR(ctx context.Context, r io.Reader, w *writer) ([]cid.Cid, int, error) {
	br, err := car.NewBlockReader(r)
	if err != nil {
		return nil, 0, fmt.Errorf("read car header: %w", err)
	}
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, n, err
		}
		blk, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, n, fmt.Errorf("block %d: %w", n+1, err)
		}
		// BlockReader already checks the hash; check again with our own
		// code so a reader option can never let a bad block through.
		if err := block.Verify(blk.Cid(), blk.RawData()); err != nil {
			return nil, n, fmt.Errorf("block %d: %w", n+1, err)
		}
		if blk.Cid().Type() == cid.DagProtobuf {
			if _, err := block.Links(blk.Cid(), blk.RawData()); err != nil {
				return nil, n, fmt.Errorf("block %d (%s): malformed dag-pb: %w", n+1, blk.Cid(), err)
			}
		}
		if w != nil {
			w.put(blk.Cid(), blk.RawData())
		}
		n++
	}
	if len(br.Roots) == 0 {
		return nil, n, errors.New("car has no roots")
	}
	return br.Roots, n, nil
}
