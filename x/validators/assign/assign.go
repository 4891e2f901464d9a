package assign

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sort"

	sdkmath "cosmossdk.io/math"
)

// ErrNoCandidate is returned when no validator is eligible.
var ErrNoCandidate = errors.New("assign: no eligible validator")

// Candidate is one eligible build validator.
type Candidate struct {
	// Address is the validator's account address bytes; candidates are
	// ordered by it so the draw does not depend on iteration order.
	Address []byte
	// Weight is the selection weight (bond, or bond ÷ efficiency). Must be > 0.
	Weight sdkmath.Int
}

// Seed is H(randomness ‖ claim_id ‖ round) with SHA-256; claim id and round
// are fixed-width big-endian so distinct (claim, round) pairs never collide
// as byte strings.
func Seed(randomness []byte, claimID uint64, round uint32) [32]byte {
	h := sha256.New()
	h.Write([]byte("buildchain/assign/v1"))
	h.Write(randomness)
	var buf [12]byte
	binary.BigEndian.PutUint64(buf[:8], claimID)
	binary.BigEndian.PutUint32(buf[8:], round)
	h.Write(buf[:])
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// UniformBelow draws an integer uniformly from [0, n) from seed, by rejection
// sampling over successive SHA-256 blocks: a 256-bit value is accepted only
// below the largest multiple of n that fits, so there is no modulo bias. The
// expected number of hashes is < 2 for every n.
func UniformBelow(seed [32]byte, n *big.Int) (*big.Int, error) {
	if n.Sign() <= 0 {
		return nil, fmt.Errorf("assign: bound must be positive, got %s", n)
	}
	space := new(big.Int).Lsh(big.NewInt(1), 256)
	if n.Cmp(space) > 0 {
		return nil, fmt.Errorf("assign: bound %s exceeds 2^256", n)
	}
	limit := new(big.Int).Sub(space, new(big.Int).Mod(space, n)) // multiple of n
	var ctr [4]byte
	for i := uint32(0); ; i++ {
		binary.BigEndian.PutUint32(ctr[:], i)
		h := sha256.New()
		h.Write(seed[:])
		h.Write(ctr[:])
		x := new(big.Int).SetBytes(h.Sum(nil))
		if x.Cmp(limit) < 0 {
			return x.Mod(x, n), nil
		}
	}
}

// Pick chooses one candidate with probability weight/Σweight. exclude (may be
// nil) removes candidates (publisher, earlier validators of the claim...).
// Candidates with non-positive weight never win. The input slice is not
// modified.
func Pick(cands []Candidate, seed [32]byte, exclude func(addr []byte) bool) (Candidate, error) {
	eligible := make([]Candidate, 0, len(cands))
	total := sdkmath.ZeroInt()
	for _, c := range cands {
		if c.Weight.IsNil() || !c.Weight.IsPositive() {
			continue
		}
		if exclude != nil && exclude(c.Address) {
			continue
		}
		eligible = append(eligible, c)
		total = total.Add(c.Weight)
	}
	if len(eligible) == 0 {
		return Candidate{}, ErrNoCandidate
	}
	sort.SliceStable(eligible, func(i, j int) bool {
		return bytes.Compare(eligible[i].Address, eligible[j].Address) < 0
	})
	for i := 1; i < len(eligible); i++ {
		if bytes.Equal(eligible[i-1].Address, eligible[i].Address) {
			return Candidate{}, fmt.Errorf("assign: duplicate candidate %x", eligible[i].Address)
		}
	}
	r, err := UniformBelow(seed, total.BigInt())
	if err != nil {
		return Candidate{}, err
	}
	point := sdkmath.NewIntFromBigInt(r)
	acc := sdkmath.ZeroInt()
	for _, c := range eligible {
		acc = acc.Add(c.Weight)
		if point.LT(acc) {
			return c, nil
		}
	}
	// Unreachable: point < total == final acc.
	return Candidate{}, errors.New("assign: internal error, draw beyond total weight")
}

var (
	minEfficiency = sdkmath.LegacyNewDecWithPrec(25, 2) // 1/4
	maxEfficiency = sdkmath.LegacyNewDec(4)
)

// Weight returns a validator's selection weight. With byEfficiency the bond
// is divided by the efficiency factor r (1 = average; >1 slower than average),
// clamped to [1/4, 4] like the build-time clipping of docs/ARCHITECTURE.md §Economics so that one odd
// measurement cannot make a validator (nearly) unpickable or dominant. A
// zero/nil efficiency means "no history yet" and counts as 1.
func Weight(bond sdkmath.Int, efficiency sdkmath.LegacyDec, byEfficiency bool) sdkmath.Int {
	if bond.IsNil() || !bond.IsPositive() {
		return sdkmath.ZeroInt()
	}
	if !byEfficiency || efficiency.IsNil() || !efficiency.IsPositive() {
		return bond
	}
	r := efficiency
	if r.LT(minEfficiency) {
		r = minEfficiency
	}
	if r.GT(maxEfficiency) {
		r = maxEfficiency
	}
	return sdkmath.LegacyNewDecFromInt(bond).Quo(r).TruncateInt()
}
