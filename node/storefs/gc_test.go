package storefs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/buildchain/buildchain/node/storefs/corpus"
	"github.com/ipfs/go-cid"
)

// TestGCRaceConcurrentAdds runs 1,000 concurrent adds while GC runs in a
// loop. Every add shares a block with every other (and with garbage that
// GC is busy sweeping), so a GC that swept between "block exists, skip
// write" and "root pinned" would lose it. Afterwards every kept root must
// read back completely: 0 blocks lost.
func TestGCRaceConcurrentAdds(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	shared := corpus.Stream("shared", 262144+10) // two leaves every tree links
	src := t.TempDir()
	const adds = 1000
	for i := 0; i < adds; i++ {
		d := filepath.Join(src, fmt.Sprint(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "shared.bin"), shared, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "own.txt"), []byte(fmt.Sprintf("tree %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var gcRuns, swept atomic.Int64
	gcDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
			}
			res, err := s.GC(ctx)
			if err != nil {
				gcDone <- err
				return
			}
			gcRuns.Add(1)
			swept.Add(int64(res.Removed))
		}
	}()

	roots := make([]cid.Cid, adds)
	errs := make([]error, adds)
	var wg sync.WaitGroup
	// All 1,000 run concurrently; at most 64 are inside the store at once so
	// that adds keep starting and finishing while GC loops (and GC gets in
	// between them instead of waiting for one big wave).
	inflight := make(chan struct{}, 64)
	for i := 0; i < adds; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inflight <- struct{}{}
			defer func() { <-inflight }()
			c, err := s.AddPath(ctx, filepath.Join(src, fmt.Sprint(i)), AddOptions{})
			if err != nil {
				errs[i] = err
				return
			}
			roots[i] = c
			if i%2 == 0 {
				// Garbage: release it so GC sweeps its unique blocks while
				// others still add the shared ones.
				errs[i] = s.ReleaseTempPin(c)
				return
			}
			if err := s.Pin("tester", "race", c); err != nil {
				errs[i] = err
				return
			}
			errs[i] = s.ReleaseTempPin(c)
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-gcDone; err != nil {
		t.Fatalf("gc: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	// One last GC with no adds running, then every pinned root must be whole.
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for i := 1; i < adds; i += 2 {
		var buf bytes.Buffer
		if err := s.Cat(ctx, roots[i], "shared.bin", &buf); err != nil || !bytes.Equal(buf.Bytes(), shared) {
			t.Errorf("root %d: shared.bin: %v", i, err)
			lost++
			continue
		}
		buf.Reset()
		if err := s.Cat(ctx, roots[i], "own.txt", &buf); err != nil || buf.String() != fmt.Sprintf("tree %d\n", i) {
			t.Errorf("root %d: own.txt: %v", i, err)
			lost++
		}
	}
	if lost != 0 {
		t.Fatalf("%d pinned roots lost blocks", lost)
	}
	// Garbage roots were really collected (GC did work during the race).
	for i := 0; i < adds; i += 2 {
		if ok, _ := s.HasBlock(roots[i]); ok {
			t.Fatalf("unpinned root %d survived the final GC", i)
		}
	}
	t.Logf("%d GC runs during the adds swept %d blocks", gcRuns.Load(), swept.Load())
	if gcRuns.Load() < 3 {
		t.Fatalf("GC ran only %d times during the adds", gcRuns.Load())
	}
}
