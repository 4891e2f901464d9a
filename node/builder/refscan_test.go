package builder

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/nix-community/go-nix/pkg/nixbase32"
	"github.com/stretchr/testify/require"
)

// testCIDs returns n distinct CIDv1 strings (dag-pb and raw, as store paths and archives are).
func testCIDs(t testing.TB, n int) []string {
	out := make([]string, n)
	for i := range out {
		h, err := mh.Sum([]byte(fmt.Sprint("input ", i)), mh.SHA2_256, -1)
		require.NoError(t, err)
		codec := uint64(cid.DagProtobuf)
		if i%3 == 0 {
			codec = cid.Raw
		}
		out[i] = cid.NewCidV1(codec, h).String()
	}
	return out
}

func nixHashes(n int) []string {
	out := make([]string, n)
	for i := range out {
		sum := sha256.Sum256([]byte(fmt.Sprint("nix ", i)))
		out[i] = nixbase32.EncodeToString(sum[:20])
	}
	return out
}

// naive is the scan refScanner replaced: each pattern searched for in turn.
func naive(patterns []string, files [][]byte) []bool {
	found := make([]bool, len(patterns))
	for i, p := range patterns {
		for _, f := range files {
			if p != "" && bytes.Contains(f, []byte(p)) {
				found[i] = true
			}
		}
	}
	return found
}

// noise is binary-looking bytes with runs of lowercase text and base32 digits in between, so
// windows of alphabet bytes and false anchor hits ("baf" + garbage) both occur.
func noise(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		switch r.IntN(4) {
		case 0:
			for range r.IntN(64) {
				b = append(b, byte(r.IntN(256)))
			}
		case 1:
			for range r.IntN(80) {
				b = append(b, "abcdefghijklmnopqrstuvwxyz234567"[r.IntN(32)])
			}
		case 2:
			b = append(b, "bafy"...)
		default:
			b = append(b, "/ipfs/store/bafk"...)
		}
	}
	return b[:n]
}

func scanAll(patterns []string, files [][]byte) []bool {
	sc := newRefScanner(patterns)
	for _, f := range files {
		sc.scan(f)
	}
	got := make([]bool, len(patterns))
	for i := range patterns {
		got[i] = sc.found(i)
	}
	return got
}

func TestRefScanMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name     string
		patterns []string
	}{
		{"cids", testCIDs(t, 300)},
		{"nix hash parts", nixHashes(300)},
		{"mixed lengths and short", append(append(testCIDs(t, 20), nixHashes(20)...), "ab", "", "bafy", "q")},
		{"prefixes of each other", []string{"bafyabcd", "bafyabcdef", "bafyab", "bafyabcd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 20 {
				var files [][]byte
				for range 1 + r.IntN(4) {
					f := noise(r, r.IntN(20000))
					// Plant some patterns, at the start, the end and inside, some cut short.
					for _, p := range tc.patterns {
						switch r.IntN(12) {
						case 0:
							f = append([]byte(p), f...)
						case 1:
							f = append(f, p...)
						case 2:
							at := r.IntN(len(f) + 1)
							f = append(f[:at:at], append([]byte(p), f[at:]...)...)
						case 3:
							if len(p) > 1 {
								f = append(f, p[:len(p)-1]...)
							}
						}
					}
					files = append(files, f)
				}
				require.Equal(t, naive(tc.patterns, files), scanAll(tc.patterns, files), "round %d", round)
			}
		})
	}
}

func TestRefScanEdges(t *testing.T) {
	cids := testCIDs(t, 2)
	// A pattern split over two files is not found; one at the very end is.
	require.Equal(t, []bool{false, true}, scanAll(cids, [][]byte{[]byte("x" + cids[0][:30]), []byte(cids[0][30:] + "y" + cids[1])}))
	// Overlapping occurrences: the second starts inside the first's anchor run.
	require.Equal(t, []bool{true}, scanAll([]string{"aaaab"}, [][]byte{[]byte("aaaaaab")}))
	hs := nixHashes(20)
	require.Equal(t, []bool{true, false}, scanAll(hs[:2], [][]byte{[]byte("zz" + hs[0] + "zz")}))
	// A window of alphabet bytes longer than the patterns, the match at its end.
	require.Equal(t, []bool{true}, scanAll(hs[:1], [][]byte{[]byte("0000000000000000000000000000000000000000" + hs[0])}))
	require.Equal(t, []bool{false, false}, scanAll([]string{"", "abc"}, [][]byte{nil, []byte("ab")}))
}

// BenchmarkRefScan compares one scan of a 4 MB output for 2000
// candidate CIDs (a link of buildchaind has over 2000 inputs) with the per-candidate scan it
// replaced.
func BenchmarkRefScan(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	data := noise(r, 4<<20)
	cids := testCIDs(b, 2000)
	data = append(data, cids[7]...)
	hs := nixHashes(2000)
	b.Run("cids/onepass", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			scanAll(cids, [][]byte{data})
		}
	})
	b.Run("nix/onepass", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			scanAll(hs, [][]byte{data})
		}
	})
	b.Run("cids/per-candidate", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			naive(cids, [][]byte{data})
		}
	})
}
