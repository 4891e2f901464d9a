package storefs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"

	"github.com/buildchain/buildchain/node/storefs/corpus"
)

// BenchmarkAdd16MiB adds one 16 MiB file (64 raw leaves) into a fresh
// store per iteration: the durable path, block files included. Compare with
// BenchmarkSHA256_16MiB (the baseline) in the same run:
//
//	go test -run '^$' -bench 'Add16MiB|SHA256_16MiB' ./node/storefs
func BenchmarkAdd16MiB(b *testing.B) {
	data := corpus.Stream("bench", 16<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.AddReader(context.Background(), bytes.NewReader(data), 0, AddOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

// BenchmarkAddOnlyHash16MiB is the import pipeline alone (no block files).
func BenchmarkAddOnlyHash16MiB(b *testing.B) {
	data := corpus.Stream("bench", 16<<20)
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.AddReader(context.Background(), bytes.NewReader(data), 0, AddOptions{OnlyHash: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSHA256_16MiB is single-core sha256 of the same bytes.
func BenchmarkSHA256_16MiB(b *testing.B) {
	data := corpus.Stream("bench", 16<<20)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sha256.Sum256(data)
	}
}

// BenchmarkGetBlock reads and verifies one 256 KiB leaf (the FUSE cold path
// per leaf).
func BenchmarkGetBlock(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := corpus.Stream("leaf", ChunkSize)
	c, err := s.AddReader(context.Background(), bytes.NewReader(data), 0, AddOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(ChunkSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.GetBlock(c); err != nil {
			b.Fatal(err)
		}
	}
}
