package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/corpus"
	"github.com/ipfs/go-cid"
	"golang.org/x/sys/unix"
)

// TestFUSELargeFileReads reads two-level files (175 leaves and a bit: the
// root's second child is a small internal node, read as one lazy leaf)
// with raw leaves and with dag-pb leaves (preserve-mode), whole and at
// random unaligned offsets, then corrupts a leaf under each child: reads
// that touch it fail with EIO through a fresh mount, the rest still read.
func TestFUSELargeFileReads(t *testing.T) {
	needFUSE(t)
	s := openStore(t)
	data := corpus.Stream("large", 175*262144+1000)
	ctx := context.Background()
	for _, preserve := range []bool{false, true} {
		t.Run(fmt.Sprintf("preserve=%v", preserve), func(t *testing.T) {
			root, err := s.AddReader(ctx, bytes.NewReader(data), 0o644, storefs.AddOptions{PreserveMode: preserve})
			if err != nil {
				t.Fatal(err)
			}
			mnt := mountTemp(t, s)
			p := filepath.Join(mnt, root.String())
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("whole file: %d bytes, %v", len(got), err)
			}
			checkRandomReads(t, p, data, 200)

			// Leaf 100 (under the 174-leaf child) and leaf 174 (under
			// the small one, read as a subtree).
			nd, err := s.GetNode(root)
			if err != nil {
				t.Fatal(err)
			}
			big, err := s.GetNode(nd.Links()[0].Cid)
			if err != nil {
				t.Fatal(err)
			}
			small, err := s.GetNode(nd.Links()[1].Cid)
			if err != nil {
				t.Fatal(err)
			}
			if len(big.Links()) != 174 || len(small.Links()) != 2 {
				t.Fatalf("layout: %d and %d links", len(big.Links()), len(small.Links()))
			}
			corrupt(t, s, big.Links()[100].Cid)
			corrupt(t, s, small.Links()[0].Cid)
			mnt2 := mountTemp(t, s)
			f, err := os.Open(filepath.Join(mnt2, root.String()))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 4096)
			for _, off := range []int64{100*262144 + 7, 174*262144 + 10, 175*262144 + 10} {
				if _, err := f.ReadAt(buf, off); !errors.Is(err, syscall.EIO) {
					t.Errorf("read at %d over a corrupted leaf: %v, want EIO", off, err)
				}
			}
			for _, off := range []int64{0, 99 * 262144, 101*262144 + 5, 173 * 262144} {
				if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, data[off:off+4096]) {
					t.Errorf("read at %d over intact leaves: %v", off, err)
				}
			}
		})
	}
}

func checkRandomReads(t *testing.T, p string, data []byte, n int) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		off := r.IntN(len(data))
		buf := make([]byte, 1+r.IntN(700<<10))
		k, err := f.ReadAt(buf, int64(off))
		if k != min(len(buf), len(data)-off) || (err != nil && k == len(buf)) {
			t.Fatalf("read %d at %d: %d, %v", len(buf), off, k, err)
		}
		if !bytes.Equal(buf[:k], data[off:off+k]) {
			t.Fatalf("read %d at %d: wrong bytes", len(buf), off)
		}
	}
}

func corrupt(t *testing.T, s *storefs.Store, c cid.Cid) {
	t.Helper()
	p := s.BlockPath(c)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

// TestBlockCache: loads are shared and bounded; a failed load is not kept
// (the next reader loads again and gets its own error); an entry evicted
// while in use keeps its bytes until released.
func TestBlockCache(t *testing.T) {
	bc := newBlockCache(4 * blockBufSize)
	loads := 0
	load := func(fill byte) func([]byte) ([]byte, []byte, error) {
		return func(buf []byte) ([]byte, []byte, error) {
			loads++
			for i := range buf {
				buf[i] = fill
			}
			return buf, buf[:10], nil
		}
	}
	c := func(i int) cid.Cid {
		h, _ := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum([]byte{byte(i)})
		return h
	}
	held, err := bc.acquire(c(0), load(0))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		e, err := bc.acquire(c(i), load(byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		bc.release(e)
	}
	if bc.bytes > bc.max || bc.lru.Len() > 4 {
		t.Fatalf("cache holds %d bytes in %d entries, bound %d", bc.bytes, bc.lru.Len(), bc.max)
	}
	if bc.has(c(0)) {
		t.Fatal("entry 0 not evicted")
	}
	if held.data[0] != 0 || held.data[9] != 0 {
		t.Fatal("bytes of an entry in use were overwritten")
	}
	bc.release(held)
	// A cached entry is not loaded again.
	n := loads
	e, err := bc.acquire(c(10), load(99))
	if err != nil || e.data[0] != 10 || loads != n {
		t.Fatalf("cached entry: %v, loads %d -> %d", err, n, loads)
	}
	bc.release(e)
	// Failures are not cached.
	bad := errors.New("corrupt")
	for range 2 {
		if _, err := bc.acquire(c(50), func([]byte) ([]byte, []byte, error) { loads++; return nil, nil, bad }); !errors.Is(err, bad) {
			t.Fatalf("failed load: %v", err)
		}
	}
	if loads != n+2 || bc.has(c(50)) {
		t.Fatalf("failed load cached (loads %d -> %d)", n, loads)
	}
}

// TestFUSEConcurrentReaders: several readers of a file larger than the
// block cache, dropping the kernel's pages between passes so every pass
// goes back to the server, all read the right bytes (loads shared,
// buffers recycled under them), and all concurrent readers of a
// corrupted leaf get EIO.
func TestFUSEConcurrentReaders(t *testing.T) {
	needFUSE(t)
	s := openStore(t)
	data := corpus.Stream("concurrent", 180*262144+4321)
	root, err := s.AddReader(context.Background(), bytes.NewReader(data), 0o644, storefs.AddOptions{PreserveMode: true})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(mountTemp(t, s), root.String())
	drop := func() {
		f, err := os.Open(p)
		if err != nil {
			t.Error(err)
			return
		}
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pass := range 2 {
				drop()
				if g%2 == 0 {
					got, err := os.ReadFile(p)
					if err != nil || !bytes.Equal(got, data) {
						t.Errorf("reader %d pass %d: whole file: %v", g, pass, err)
					}
					continue
				}
				f, err := os.Open(p)
				if err != nil {
					t.Error(err)
					return
				}
				r := rand.New(rand.NewPCG(uint64(g), uint64(pass)))
				for range 50 {
					off := r.IntN(len(data))
					buf := make([]byte, min(1+r.IntN(600<<10), len(data)-off))
					if _, err := f.ReadAt(buf, int64(off)); err != nil || !bytes.Equal(buf, data[off:off+len(buf)]) {
						t.Errorf("reader %d: %d bytes at %d: %v", g, len(buf), off, err)
					}
				}
				f.Close()
			}
		}()
	}
	wg.Wait()

	nd, err := s.GetNode(root)
	if err != nil {
		t.Fatal(err)
	}
	big, err := s.GetNode(nd.Links()[0].Cid)
	if err != nil {
		t.Fatal(err)
	}
	// Bytes verified before the corruption may still be served from the
	// caches (they are the right bytes); a fresh mount has none.
	corrupt(t, s, big.Links()[40].Cid)
	p = filepath.Join(mountTemp(t, s), root.String())
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Open(p)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			buf := make([]byte, 8192)
			if _, err := f.ReadAt(buf, 40*262144+int64(g)*1000); !errors.Is(err, syscall.EIO) {
				t.Errorf("reader %d of a corrupted leaf: %v, want EIO", g, err)
			}
		}()
	}
	wg.Wait()
}
