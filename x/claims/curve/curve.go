// Package curve is the exact analysis of the claims game's attack curve (x/claims/README.md
// §Parameters): how many rounds a claim plays, how often a fake claim is accepted when
// colluding builders hold a share of the bond, and what a lying publisher expects to earn per
// fake in units of its deposit. Everything is a math/big.Rat: no floats, no rounding, so the
// figures can be asserted exactly and the defaults derived from them deterministically.
//
// The game (x/claims/game): a claim always plays min_rounds rounds, then another with
// probability p_continue after each, never more than max_rounds. Every round is committed
// before anything is revealed (blind rounds), so the number of rounds does not depend on what
// the rounds say, and a fake is accepted only if every one of its rounds lands on a colluder.
package curve

import (
	"fmt"
	"math/big"

	sdkmath "cosmossdk.io/math"

	"github.com/buildchain/buildchain/x/claims/game"
)

// Game is the part of x/claims' params the curve depends on.
type Game struct {
	MinRounds, MaxRounds uint32
	PContinue            *big.Rat
}

// FromRules is the game of the chain's rules (its p_continue, a LegacyDec, converted exactly).
func FromRules(r game.Rules) Game {
	return Game{MinRounds: r.MinRounds, MaxRounds: r.MaxRounds, PContinue: DecRat(r.PContinue)}
}

// DecRat is d as an exact fraction.
func DecRat(d sdkmath.LegacyDec) *big.Rat {
	return new(big.Rat).SetFrac(d.BigInt(), new(big.Int).Exp(big.NewInt(10), big.NewInt(sdkmath.LegacyPrecision), nil))
}

// Validate checks the game is playable: 1 ≤ min_rounds ≤ max_rounds, 0 ≤ p_continue ≤ 1.
func (g Game) Validate() error {
	switch {
	case g.MinRounds == 0:
		return fmt.Errorf("min_rounds must be at least 1")
	case g.MaxRounds < g.MinRounds:
		return fmt.Errorf("max_rounds %d below min_rounds %d", g.MaxRounds, g.MinRounds)
	case g.PContinue == nil || g.PContinue.Sign() < 0 || g.PContinue.Cmp(one) > 0:
		return fmt.Errorf("p_continue must be in [0, 1], got %v", g.PContinue)
	}
	return nil
}

var one = big.NewRat(1, 1)

// Rounds is the distribution of the number of rounds K, indexed by k = 0..max_rounds:
//
//	P(K = k) = (1 − p)·p^(k−m)   for m ≤ k < M
//	P(K = M) = p^(M−m)
//
// with m = min_rounds, p = p_continue, M = max_rounds (0 below m).
func (g Game) Rounds() []*big.Rat {
	d := make([]*big.Rat, g.MaxRounds+1)
	for k := range d {
		d[k] = new(big.Rat)
	}
	stay := big.NewRat(1, 1) // P(K ≥ k)
	q := new(big.Rat).Sub(one, g.PContinue)
	for k := g.MinRounds; k <= g.MaxRounds; k++ {
		if k == g.MaxRounds {
			d[k].Set(stay)
			break
		}
		d[k].Mul(stay, q)
		stay.Mul(stay, g.PContinue)
	}
	return d
}

// Builds is E[K] = Σ k·P(K = k), the builds an honest claim costs.
func (g Game) Builds() *big.Rat {
	e := new(big.Rat)
	for k, p := range g.Rounds() {
		e.Add(e, new(big.Rat).Mul(big.NewRat(int64(k), 1), p))
	}
	return e
}

// Acceptance is the chance that every round of a claim lands on a colluder when colluders hold
// a share f of the bond, in a large population: Σ P(K = k)·f^k. A round never repeats a
// validator of the claim, which only lowers the colluders' share of what is left, so this is
// an upper bound for every population (AcceptanceAmong is the exact value for a finite one).
func (g Game) Acceptance(f *big.Rat) *big.Rat {
	a := new(big.Rat)
	pow := big.NewRat(1, 1)
	for _, p := range g.Rounds() {
		a.Add(a, new(big.Rat).Mul(p, pow))
		pow.Mul(pow, f)
	}
	return a
}

// AcceptanceAmong is the same chance for c colluders among n equally bonded validators, drawn
// without replacement: Σ P(K = k)·Π_{i<k} (c−i)/(n−i). A round that finds no validator left
// is not played (the claim expires); those k contribute nothing.
func (g Game) AcceptanceAmong(c, n int) *big.Rat {
	a := new(big.Rat)
	q := big.NewRat(1, 1) // Π_{i<k} (c−i)/(n−i)
	for k, p := range g.Rounds() {
		a.Add(a, new(big.Rat).Mul(p, q))
		if k >= n || c-k <= 0 {
			q.SetInt64(0)
			continue
		}
		q.Mul(q, big.NewRat(int64(c-k), int64(n-k)))
	}
	return a
}

// Profit is a lying publisher's expected profit per fake claim in units of its deposit, when an
// accepted fake (chance a) gains it gain deposits and a caught one costs its deposit:
// a·gain − (1 − a). The claim fee and the colluders' slashed bonds are left out (both make
// lying dearer), so a negative figure holds for a chain with free claims too.
func Profit(a, gain *big.Rat) *big.Rat {
	p := new(big.Rat).Mul(a, gain)
	return p.Sub(p, new(big.Rat).Sub(one, a))
}

// BreakEven is the gain per accepted fake, in deposits, at which a lying publisher's profit is
// zero: (1 − a)/a. Every smaller gain is a loss. It is nil when a is 0 (no gain pays).
func BreakEven(a *big.Rat) *big.Rat {
	if a.Sign() == 0 {
		return nil
	}
	b := new(big.Rat).Sub(one, a)
	return b.Quo(b, a)
}

// Safe reports whether a lying publisher facing colluders with bond share f loses money for
// every gain up to gain deposits per accepted fake: Profit(Acceptance(f), gain) < 0, that is
// Acceptance(f) < 1/(gain + 1) (the profit grows with the gain, so gain is the binding one).
func (g Game) Safe(f, gain *big.Rat) bool {
	return Profit(g.Acceptance(f), gain).Sign() < 0
}

// Grid is a set of games to search: min_rounds MinRounds..MaxMin, max_rounds min_rounds..MaxMax,
// p_continue 0, Step, 2·Step, … below 1.
type Grid struct {
	MinRounds, MaxMin, MaxMax uint32
	Step                      *big.Rat
}

// DefaultGrid is the grid x/claims' defaults were chosen from: min_rounds 1–4, max_rounds up to
// 8, p_continue in steps of 0.05.
func DefaultGrid() Grid {
	return Grid{MinRounds: 1, MaxMin: 4, MaxMax: 8, Step: big.NewRat(1, 20)}
}

// Cheapest is the game of the grid with the fewest builds per claim (E[K]) that is Safe for
// colluders with bond share f and gains up to gain; among equally cheap games the first in the
// grid's order (min_rounds, then max_rounds, then p_continue, each ascending). ok is false if no
// game of the grid is safe.
func (gr Grid) Cheapest(f, gain *big.Rat) (best Game, ok bool) {
	var bestBuilds *big.Rat
	for m := gr.MinRounds; m <= gr.MaxMin; m++ {
		for mx := m; mx <= gr.MaxMax; mx++ {
			for p := new(big.Rat); p.Cmp(one) < 0; p = new(big.Rat).Add(p, gr.Step) {
				g := Game{MinRounds: m, MaxRounds: mx, PContinue: p}
				if !g.Safe(f, gain) {
					continue
				}
				if b := g.Builds(); bestBuilds == nil || b.Cmp(bestBuilds) < 0 {
					best, bestBuilds, ok = g, b, true
				}
			}
		}
	}
	return best, ok
}
