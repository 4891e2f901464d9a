package storefs

import (
	"context"
	"runtime"
	"sync"

	"github.com/ipfs/go-cid"
)

// BadBlock is a block that failed verification.
type BadBlock struct {
	CID cid.Cid
	Err error
}

// Verify rehashes every block in the store and returns the bad ones (and
// how many blocks were checked). Blocks are read in parallel.
func (s *Store) Verify(ctx context.Context) ([]BadBlock, int, error) {
	all, err := s.AllBlocks()
	if err != nil {
		return nil, 0, err
	}
	var (
		mu  sync.Mutex
		bad []BadBlock
		wg  sync.WaitGroup
	)
	next := make(chan cid.Cid)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				if _, err := s.GetBlock(c); err != nil {
					mu.Lock()
					bad = append(bad, BadBlock{CID: c, Err: err})
					mu.Unlock()
				}
			}
		}()
	}
	n := 0
	for _, c := range all {
		if ctx.Err() != nil {
			break
		}
		next <- c
		n++
	}
	close(next)
	wg.Wait()
	sortBad(bad)
	return bad, n, ctx.Err()
}

func sortBad(b []BadBlock) {
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && b[j].CID.String() < b[j-1].CID.String(); j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
}
