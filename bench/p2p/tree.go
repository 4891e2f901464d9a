package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/storefs"
)

// runTree measures the many-small-blocks case (a source tree): a directory
// of n files of size bytes, exchanged between two storefs nodes, against a
// file-by-file copy of the same directory.
func runTree(n, size int, dir string, runs int) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "bench-p2p-tree-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	src := filepath.Join(dir, "tree")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	buf := make([]byte, size)
	for i := range n {
		if _, err := rand.Read(buf); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%06d", i)), buf, 0o644); err != nil {
			return err
		}
	}
	var bestCopy, bestSyncCopy, bestFetch time.Duration
	var blocks int
	for i := range runs {
		d, err := copyTree(src, filepath.Join(dir, fmt.Sprintf("copy%d", i)), false)
		if err != nil {
			return err
		}
		bestCopy = minDur(bestCopy, d)
		d, err = copyTree(src, filepath.Join(dir, fmt.Sprintf("synccopy%d", i)), true)
		if err != nil {
			return err
		}
		bestSyncCopy = minDur(bestSyncCopy, d)
		d, nb, err := exchangeTree(src, filepath.Join(dir, fmt.Sprintf("treerun%d", i)))
		if err != nil {
			return err
		}
		bestFetch = minDur(bestFetch, d)
		blocks = nb
	}
	fps := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Printf("small files, 2 nodes on loopback, %d files of %d bytes (%d blocks, one directory), store=storefs, best of %d\n",
		n, size, blocks, runs)
	fmt.Printf("  bitswap fetch:           %8.0f files/s (%v)\n", fps(bestFetch), bestFetch.Round(time.Millisecond))
	fmt.Printf("  file copy:               %8.0f files/s (%v)\n", fps(bestCopy), bestCopy.Round(time.Millisecond))
	fmt.Printf("  file copy + fsync:       %8.0f files/s (%v)\n", fps(bestSyncCopy), bestSyncCopy.Round(time.Millisecond))
	fmt.Printf("ratio tree exchange/file-copy:         %.3f\n", bestCopy.Seconds()/bestFetch.Seconds())
	fmt.Printf("ratio tree exchange/file-copy+fsync:   %.3f\n", bestSyncCopy.Seconds()/bestFetch.Seconds())
	return nil
}

func copyTree(src, dst string, durable bool) (time.Duration, error) {
	start := time.Now()
	if err := os.Mkdir(dst, 0o755); err != nil {
		return 0, err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return 0, err
		}
		f, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			return 0, err
		}
		_, err = f.Write(data)
		if err == nil && durable {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, err
		}
	}
	d := time.Since(start)
	return d, os.RemoveAll(dst)
}

func exchangeTree(src, dir string) (time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	defer os.RemoveAll(dir)
	sa, err := storefs.Open(filepath.Join(dir, "a"))
	if err != nil {
		return 0, 0, err
	}
	defer sa.Close()
	sb, err := storefs.Open(filepath.Join(dir, "b"))
	if err != nil {
		return 0, 0, err
	}
	defer sb.Close()
	root, err := sa.AddPath(ctx, src, storefs.AddOptions{})
	if err != nil {
		return 0, 0, fmt.Errorf("import tree on A: %w", err)
	}
	quiet := slog.New(slog.DiscardHandler)
	mk := func(name string, s *storefs.Store) (*p2p.Node, error) {
		return p2p.New(ctx, p2p.Config{
			KeyFile: filepath.Join(dir, name+".key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
			Blockstore: s.Blockstore(), ReprovideInterval: -1, Logger: quiet,
		})
	}
	na, err := mk("a", sa)
	if err != nil {
		return 0, 0, err
	}
	defer na.Close()
	nb, err := mk("b", sb)
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
		return 0, 0, fmt.Errorf("fetch tree on B: %w", err)
	}
	want, err := sa.Closure(root)
	if err != nil {
		return 0, 0, err
	}
	got, err := sb.Closure(root)
	if err != nil {
		return 0, 0, fmt.Errorf("B's closure: %w", err)
	}
	if len(got) != len(want) {
		return 0, 0, fmt.Errorf("B holds %d of %d blocks of %s", len(got), len(want), root)
	}
	return d, st.Blocks, nil
}
