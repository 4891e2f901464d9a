package fusefs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/corpus"
	"github.com/ipfs/go-cid"
)

// BenchmarkFUSEColdRead reads a file once through a fresh mount (every leaf
// read from blocks/ and hash-checked) and reports its speed as a ratio to
// single-core sha256 of the same bytes, measured in the same iteration
// (issue 15 goal: >= 0.8), for a 4 MiB and a 64 MiB file, with the mount's
// readahead (kernel window 4 MiB, 16 leaves of our own) and without either.
func BenchmarkFUSEColdRead(b *testing.B) {
	if err := Available(); err != nil {
		b.Skip(err)
	}
	s, err := storefs.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, mib := range []int{4, 64} {
		data := corpus.Stream(fmt.Sprint("cold", mib), mib<<20)
		root, err := s.AddReader(context.Background(), bytes.NewReader(data), 0, storefs.AddOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, ra := range []struct {
			name          string
			kernel, ahead int
		}{{"readahead", 0, 16}, {"kernel-default", -1, 0}} {
			b.Run(fmt.Sprintf("%dMiB/%s", mib, ra.name), func(b *testing.B) {
				benchColdRead(b, s, root, data, ra.kernel, ra.ahead)
			})
		}
	}
}

func benchColdRead(b *testing.B, s *storefs.Store, root cid.Cid, data []byte, kernelKiB, ahead int) {
	defer func(old int) { readaheadLeaves = old }(readaheadLeaves)
	readaheadLeaves = ahead
	var ratio float64
	for range b.N {
		mnt := b.TempDir()
		srv, err := Mount(s, mnt, Options{ReadaheadKiB: kernelKiB})
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(filepath.Join(mnt, root.String()))
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		n, err := io.Copy(io.Discard, f)
		read := time.Since(t0)
		f.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("read %d: %v", n, err)
		}
		_ = srv.Unmount()
		t0 = time.Now()
		sha256.Sum256(data)
		hash := time.Since(t0)
		ratio += hash.Seconds() / read.Seconds()
	}
	b.SetBytes(int64(len(data)))
	b.ReportMetric(ratio/float64(b.N), "ratio-to-sha256")
}
