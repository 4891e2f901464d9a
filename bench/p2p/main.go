// Command p2p measures block exchange throughput between two local buildchain
// nodes (real libp2p hosts on loopback, bitswap, the real on-disk store) and
// prints it as a ratio to a plain file copy of the same bytes on the same
// disk, measured in the same run (issue 7, bench/e2e).
//
//	go run ./bench/p2p -size 64 -store storefs
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/ipfs/boxo/blockstore"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/storefs"
)

func main() {
	sizeMiB := flag.Int("size", 64, "MiB of random data to exchange")
	store := flag.String("store", "storefs", "block store of both nodes: storefs (on disk, fsynced) or mem")
	dir := flag.String("dir", "", "scratch directory (default: a new temp dir, removed afterwards)")
	runs := flag.Int("runs", 3, "repetitions; the best of each side is reported")
	files := flag.Int("files", 2000, "also exchange a directory of this many small files (storefs only; 0: skip)")
	fileSize := flag.Int("filesize", 4096, "bytes per small file")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/p2p: cpu profile:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	err := run(*sizeMiB, *store, *dir, *runs)
	if err == nil && *files > 0 && *store == "storefs" {
		err = runTree(*files, *fileSize, *dir, *runs)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench/p2p:", err)
		os.Exit(1)
	}
}

func run(sizeMiB int, store, dir string, runs int) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "bench-p2p-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	size := int64(sizeMiB) << 20
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		return err
	}

	var bestCopy, bestSyncCopy, bestFetch time.Duration
	var blocks int
	for i := range runs {
		d, err := copyFile(src, filepath.Join(dir, fmt.Sprintf("copy%d.bin", i)), false)
		if err != nil {
			return err
		}
		bestCopy = minDur(bestCopy, d)
		d, err = copyFile(src, filepath.Join(dir, fmt.Sprintf("synccopy%d.bin", i)), true)
		if err != nil {
			return err
		}
		bestSyncCopy = minDur(bestSyncCopy, d)
		d, n, err := exchange(data, store, filepath.Join(dir, fmt.Sprintf("run%d", i)))
		if err != nil {
			return err
		}
		bestFetch = minDur(bestFetch, d)
		blocks = n
	}

	mibps := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	fmt.Printf("block exchange, 2 nodes on loopback, %d MiB in %d blocks (UnixFS, 256 KiB raw leaves), store=%s, best of %d\n",
		sizeMiB, blocks, store, runs)
	fmt.Printf("  bitswap fetch:           %8.1f MiB/s (%v)\n", mibps(bestFetch), bestFetch.Round(time.Millisecond))
	fmt.Printf("  file copy:               %8.1f MiB/s (%v)\n", mibps(bestCopy), bestCopy.Round(time.Millisecond))
	fmt.Printf("  file copy + fsync:       %8.1f MiB/s (%v)\n", mibps(bestSyncCopy), bestSyncCopy.Round(time.Millisecond))
	fmt.Printf("ratio exchange/file-copy:         %.3f\n", bestCopy.Seconds()/bestFetch.Seconds())
	fmt.Printf("ratio exchange/file-copy+fsync:   %.3f\n", bestSyncCopy.Seconds()/bestFetch.Seconds())
	return nil
}

func minDur(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

// copyFile is the baseline: read the source, write a new file (and fsync it
// when durable, as the store does for every block).
func copyFile(src, dst string, durable bool) (time.Duration, error) {
	start := time.Now()
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return 0, err
	}
	if durable {
		if err := out.Sync(); err != nil {
			out.Close()
			return 0, err
		}
	}
	if err := out.Close(); err != nil {
		return 0, err
	}
	d := time.Since(start)
	return d, os.Remove(dst)
}

type openedStore struct {
	bs    blockstore.Blockstore
	add   func(ctx context.Context, data []byte) (cid.Cid, error)
	read  func(ctx context.Context, root cid.Cid) ([]byte, error)
	close func() error
}

func openStore(kind, dir string) (*openedStore, error) {
	switch kind {
	case "storefs":
		s, err := storefs.Open(dir)
		if err != nil {
			return nil, err
		}
		return &openedStore{
			bs: s.Blockstore(),
			add: func(ctx context.Context, data []byte) (cid.Cid, error) {
				return s.AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
			},
			read: func(ctx context.Context, root cid.Cid) ([]byte, error) {
				var buf bytes.Buffer
				err := s.Cat(ctx, root, "", &buf)
				return buf.Bytes(), err
			},
			close: s.Close,
		}, nil
	case "mem":
		bs := &blockstore.ValidatingBlockstore{Blockstore: blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))}
		return &openedStore{
			bs:    bs,
			add:   func(ctx context.Context, data []byte) (cid.Cid, error) { return addMem(ctx, bs, data) },
			read:  func(ctx context.Context, root cid.Cid) ([]byte, error) { return readMem(ctx, bs, root) },
			close: func() error { return nil },
		}, nil
	}
	return nil, fmt.Errorf("unknown -store %q (storefs or mem)", kind)
}

// exchange imports data on node A (untimed), then times node B fetching the
// closure from A, and checks B's copy byte for byte.
func exchange(data []byte, kind, dir string) (time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sa, err := openStore(kind, filepath.Join(dir, "a"))
	if err != nil {
		return 0, 0, err
	}
	defer sa.close()
	sb, err := openStore(kind, filepath.Join(dir, "b"))
	if err != nil {
		return 0, 0, err
	}
	defer sb.close()
	defer os.RemoveAll(dir)

	root, err := sa.add(ctx, data)
	if err != nil {
		return 0, 0, fmt.Errorf("import on A: %w", err)
	}
	quiet := slog.New(slog.DiscardHandler)
	cfg := func(name string, bs blockstore.Blockstore) p2p.Config {
		return p2p.Config{
			KeyFile:           filepath.Join(dir, name+".key"),
			ListenAddrs:       []string{"/ip4/127.0.0.1/tcp/0"},
			Blockstore:        bs,
			ReprovideInterval: -1,
			Logger:            quiet,
		}
	}
	na, err := p2p.New(ctx, cfg("a", sa.bs))
	if err != nil {
		return 0, 0, err
	}
	defer na.Close()
	nb, err := p2p.New(ctx, cfg("b", sb.bs))
	if err != nil {
		return 0, 0, err
	}
	defer nb.Close()
	if err := nb.Connect(ctx, na.AddrInfo()); err != nil {
		return 0, 0, err
	}

	start := time.Now()
	st, err := nb.FetchClosure(ctx, root, nil)
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("fetch on B: %w", err)
	}
	got, err := sb.read(ctx, root)
	if err != nil {
		return 0, 0, fmt.Errorf("read back on B: %w", err)
	}
	if !bytes.Equal(got, data) {
		return 0, 0, fmt.Errorf("B's copy of %s differs from the source", root)
	}
	return d, st.Blocks, nil
}
