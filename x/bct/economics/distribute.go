package economics

import (
	"errors"
	"fmt"
	"math/big"
	"sort"

	"cosmossdk.io/math"
)

// Share is one recipient's claim on a pool.
type Share struct {
	// Key identifies the recipient (an address string); it breaks ties.
	Key string
	// Weight is the recipient's weight (rewardable build time, stake...).
	Weight math.LegacyDec
}

// ErrZeroWeight is returned when a pool has nobody to pay (all weights zero).
var ErrZeroWeight = errors.New("total weight is zero")

// DistributeProRata splits pool among shares in proportion to their weights
// with the largest-remainder method: everybody gets floor(pool·w_i/W); the
// few ubct left (fewer than len(shares)) go one each to the largest
// fractional remainders, ties broken by Key ascending. The sum of the result
// is exactly pool, nothing is minted or lost, and no recipient receives more
// than one ubct over its exact share. The computation uses the integer atoms
// of each LegacyDec so it is exact, whatever the weights.
//
// Keys must be distinct. The result is in the order of shares.
func DistributeProRata(pool math.Int, shares []Share) ([]math.Int, error) {
	if pool.IsNil() || pool.IsNegative() {
		return nil, fmt.Errorf("pool %v must be non-negative", pool)
	}
	total := new(big.Int)
	seen := make(map[string]struct{}, len(shares))
	for _, s := range shares {
		if s.Weight.IsNil() || s.Weight.IsNegative() {
			return nil, fmt.Errorf("weight of %q is %v: must be non-negative", s.Key, s.Weight)
		}
		if _, dup := seen[s.Key]; dup {
			return nil, fmt.Errorf("duplicate recipient %q", s.Key)
		}
		seen[s.Key] = struct{}{}
		total.Add(total, s.Weight.BigInt())
	}
	if total.Sign() == 0 {
		return nil, ErrZeroWeight
	}
	out := make([]math.Int, len(shares))
	rems := make([]*big.Int, len(shares))
	given := new(big.Int)
	for i, s := range shares {
		n := new(big.Int).Mul(pool.BigInt(), s.Weight.BigInt())
		q, r := new(big.Int).QuoRem(n, total, new(big.Int))
		out[i] = math.NewIntFromBigInt(q)
		rems[i] = r
		given.Add(given, q)
	}
	left := new(big.Int).Sub(pool.BigInt(), given).Int64() // < len(shares)
	if left > 0 {
		order := make([]int, len(shares))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool {
			ia, ib := order[a], order[b]
			if c := rems[ia].Cmp(rems[ib]); c != 0 {
				return c > 0
			}
			return shares[ia].Key < shares[ib].Key
		})
		for k := int64(0); k < left; k++ {
			i := order[k]
			out[i] = out[i].AddRaw(1)
		}
	}
	return out, nil
}
