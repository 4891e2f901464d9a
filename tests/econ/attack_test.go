package econ

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"strings"
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/x/claims/curve"
	"github.com/buildchain/buildchain/x/claims/game"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/validators/assign"
)

// The attack figures of x/claims/README.md §Parameters: how often a fake claim is accepted
// when a fraction f of the build validators' bond colludes with its publisher (they know the
// fake output and rubber-stamp it), or is lazy (builds nothing; under blind rounds it sees
// only the publisher's commitment and has nothing to copy), what a lying publisher earns per
// fake, and how many builds an honest claim costs. Each figure is measured with the chain's
// own rules (assign.Pick, game.AfterCommit) and asserted against its analytical value.

// fractions of bond held by the attackers.
var attackFractions = []struct {
	name string
	f    *big.Rat
	of60 int // attackers among 60 equally bonded validators
}{{"0.1", big.NewRat(1, 10), 6}, {"0.25", big.NewRat(1, 4), 15}, {"1/3", big.NewRat(1, 3), 20}}

// The analysis is x/claims/curve's (exact, in big.Rat); these give its values as float64 for
// the statistical comparisons with what is measured here.

func ratFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}

// expectedBuilds is E[K], the builds per claim (curve.Game.Builds).
func expectedBuilds(r game.Rules) float64 { return ratFloat(curve.FromRules(r).Builds()) }

// acceptanceBound is the chance that every round of a claim lands on a colluder when they hold
// a share f of the bond (curve.Game.Acceptance).
func acceptanceBound(r game.Rules, f *big.Rat) float64 {
	return ratFloat(curve.FromRules(r).Acceptance(f))
}

// acceptanceExact is the same chance for c colluders among n equally bonded validators
// (curve.Game.AcceptanceAmong).
func acceptanceExact(r game.Rules, c, n int) float64 {
	return ratFloat(curve.FromRules(r).AcceptanceAmong(c, n))
}

// publisherProfit is a lying publisher's expected profit per fake claim in deposits, for an
// acceptance rate (measured or exact) and a gain per accepted fake (curve.Profit).
func publisherProfit(accept, g float64) float64 {
	return ratFloat(curve.Profit(new(big.Rat).SetFloat64(accept), new(big.Rat).SetFloat64(g)))
}

// population is 60 equally bonded validators, the first `bad` of them of kind `kind`.
type population struct {
	cands []assign.Candidate
	kind  map[string]vKind
}

func newPopulation(bad int, kind vKind) population {
	p := population{kind: map[string]vKind{}}
	for i := 0; i < 60; i++ {
		a := sha256.Sum256([]byte(fmt.Sprintf("attack-val-%d", i)))
		p.cands = append(p.cands, assign.Candidate{Address: a[:20], Weight: sdkmath.NewInt(1000)})
		k := vHonest
		if i < bad {
			k = kind
		}
		p.kind[string(a[:20])] = k
	}
	return p
}

// playFake plays one fake claim with blind rounds: its rounds are drawn as the chain draws
// them (assign.Pick excluding the claim's earlier validators, game.AfterCommit's coin) and
// all are committed before anything is revealed, so how many there are does not depend on
// what they say. It is accepted only if no round dissents. A colluder commits the fake output
// it was told; an honest builder commits the true one; a lazy one sees only the publisher's
// commitment and commits a guess, which never equals a hash it does not know. Returns whether
// it was accepted and the builds it cost.
func (p population) playFake(rng *rand.Rand, r game.Rules, id uint64) (accepted bool, builds int, err error) {
	used := map[string]bool{}
	accepted = true
	for round := uint32(1); ; round++ {
		var seed [32]byte
		rng.Read(seed[:])
		c, err := assign.Pick(p.cands, seed, func(a []byte) bool { return used[string(a)] })
		if err != nil {
			return false, builds, err
		}
		used[string(c.Address)] = true
		builds++
		accepted = accepted && p.kind[string(c.Address)] == vLiar
		var rnd [32]byte
		rng.Read(rnd[:])
		d, err := game.AfterCommit(r, round, game.ContinueSeed(rnd[:], id, round))
		if err != nil {
			return false, builds, err
		}
		if d == game.Reveal {
			return accepted, builds, nil
		}
	}
}

// sigma is the standard error of a rate a measured over n trials.
func sigma(a float64, n int) float64 { return math.Sqrt(a * (1 - a) / float64(n)) }

func defaultRules() game.Rules {
	p := claimstypes.DefaultParams()
	return game.Rules{PContinue: p.PContinue, MinRounds: p.MinRounds, MaxRounds: p.MaxRounds}
}

// TestFakeAcceptanceMatchesAnalysis plays fake claims against every attack population with
// the chain's default rules and the rules before blind rounds were tuned (min_rounds 1,
// p_continue 0.5): the measured acceptance rate agrees with the exact analytical value
// within 4 standard errors and never exceeds the bound; lazy builders accept no fake at all.
func TestFakeAcceptanceMatchesAnalysis(t *testing.T) {
	const trials = 6000
	rulesets := []struct {
		name string
		r    game.Rules
	}{
		{"defaults", defaultRules()},
		{"min 1, p 0.5, max 8", game.Rules{PContinue: sdkmath.LegacyNewDecWithPrec(5, 1), MinRounds: 1, MaxRounds: 8}},
	}
	var tab strings.Builder
	fmt.Fprintf(&tab, "%-20s %-9s %-5s %9s %9s %9s %9s\n", "rules", "attacker", "f", "measured", "exact", "bound", "builds/fake")
	for _, rs := range rulesets {
		for _, af := range attackFractions {
			for _, kind := range []vKind{vLiar, vLazy} {
				pop := newPopulation(af.of60, kind)
				rng := rand.New(rand.NewSource(int64(af.of60)*10 + int64(kind)))
				accepted, builds := 0, 0
				for i := 0; i < trials; i++ {
					ok, b, err := pop.playFake(rng, rs.r, uint64(i+1))
					require.NoError(t, err)
					builds += b
					if ok {
						accepted++
					}
				}
				got := float64(accepted) / trials
				exact, bound := acceptanceExact(rs.r, af.of60, 60), acceptanceBound(rs.r, af.f)
				name := "colluding"
				if kind == vLazy {
					name, exact = "lazy", 0 // nothing to copy: no round can agree with a fake
				}
				fmt.Fprintf(&tab, "%-20s %-9s %-5s %9.4f %9.4f %9.4f %9.2f\n", rs.name, name, af.name, got, exact, bound, float64(builds)/trials)
				if kind == vLazy {
					require.Zero(t, accepted, "lazy builders accepted a fake claim at f = %s", af.name)
					continue
				}
				require.LessOrEqual(t, exact, bound+1e-12)
				require.InDelta(t, exact, got, 4*sigma(exact, trials)+1e-9,
					"%s, colluders f = %s: measured acceptance %.4f, exact %.4f", rs.name, af.name, got, exact)
			}
		}
	}
	t.Log("fake-claim acceptance (blind rounds):\n" + tab.String())
}

// TestBuildsPerClaimMatchesAnalysis: an honest claim among honest builders plays E[K]
// rounds on average (the cost of the game), measured with the chain's coin.
func TestBuildsPerClaimMatchesAnalysis(t *testing.T) {
	r := defaultRules()
	pop := newPopulation(60, vLiar) // everyone agrees: the claim plays all its rounds
	rng := rand.New(rand.NewSource(7))
	const trials = 6000
	sum, sumSq := 0, 0
	for i := 0; i < trials; i++ {
		ok, b, err := pop.playFake(rng, r, uint64(i+1))
		require.NoError(t, err)
		require.True(t, ok)
		sum, sumSq = sum+b, sumSq+b*b
	}
	mean := float64(sum) / trials
	sd := math.Sqrt(float64(sumSq)/trials - mean*mean)
	want := expectedBuilds(r)
	t.Logf("builds per claim with the default rules: measured %.3f, E[K] %.3f", mean, want)
	require.InDelta(t, want, mean, 4*sd/math.Sqrt(trials))
}

// TestLyingPublisherProfitCurve: a lying publisher's expected profit per fake claim, in
// deposits, as a function of its gain per accepted fake, for each colluding fraction, from
// the acceptance rate measured with the default rules: at every f and gain the measured curve
// agrees with the exact one within sampling error ((g+1)·σ of the acceptance) and the exact
// one stays below the bound's; at f = 1/3 every gain up to 10 deposits is a loss.
func TestLyingPublisherProfitCurve(t *testing.T) {
	r := defaultRules()
	gains := []float64{1, 2, 5, 10, 20}
	var tab strings.Builder
	fmt.Fprintf(&tab, "%-5s %9s %9s", "f", "accepted", "bound")
	for _, g := range gains {
		fmt.Fprintf(&tab, " %8s", fmt.Sprintf("g=%g", g))
	}
	tab.WriteString("\n")
	for _, af := range attackFractions {
		pop := newPopulation(af.of60, vLiar)
		rng := rand.New(rand.NewSource(int64(af.of60)))
		const trials = 6000
		accepted := 0
		for i := 0; i < trials; i++ {
			ok, _, err := pop.playFake(rng, r, uint64(i+1))
			require.NoError(t, err)
			if ok {
				accepted++
			}
		}
		a, bound := float64(accepted)/trials, acceptanceBound(r, af.f)
		exact := acceptanceExact(r, af.of60, 60)
		fmt.Fprintf(&tab, "%-5s %9.4f %9.4f", af.name, a, bound)
		for _, g := range gains {
			fmt.Fprintf(&tab, " %+8.3f", publisherProfit(a, g))
			// Every point of the measured curve agrees with the exact one (profit's standard
			// error is (g+1)·σ_a) and never exceeds the bound's.
			require.InDelta(t, publisherProfit(exact, g), publisherProfit(a, g), 4*(g+1)*sigma(exact, trials)+1e-9,
				"f = %s, gain %g: measured profit %+.3f, exact %+.3f", af.name, g, publisherProfit(a, g), publisherProfit(exact, g))
			require.LessOrEqual(t, publisherProfit(exact, g), publisherProfit(bound, g)+1e-12)
		}
		tab.WriteString("\n")
		if af.of60 == 20 {
			// The parameters' goal: at f = 1/3 every gain up to 10 deposits is a loss.
			for _, g := range gains {
				if g <= 10 {
					require.Negative(t, publisherProfit(bound, g), "f = 1/3, gain %g: the bound must make it a loss", g)
					require.Negative(t, publisherProfit(exact, g), "f = 1/3, gain %g", g)
				}
			}
		}
	}
	t.Log("lying publisher's expected profit per fake, in deposits, by gain per accepted fake:\n" + tab.String())
}

// TestHonestIncomeAboveAttackers runs the full economy (rewards, markets, slashing) with the
// default rules for each attack population and asserts honest builders earn more per assigned
// build-ms than lazy and colluding ones, and that the builds per claim stay near E[K] (markets
// and replayed rounds add a few).
func TestHonestIncomeAboveAttackers(t *testing.T) {
	if testing.Short() {
		t.Skip("full economy runs")
	}
	r := defaultRules()
	var tab strings.Builder
	fmt.Fprintf(&tab, "%-16s %-5s %14s %14s %20s %6s\n", "attacker", "f", "honest ubct/ms", "attacker /ms", "builds/honest claim", "E[K]")
	for _, af := range attackFractions {
		for _, kind := range []vKind{vLiar, vLazy} {
			cfg := defaultConfig()
			cfg.Rules = r
			cfg.Claims = 300
			cfg.Validators = [4]int{}
			cfg.Validators[vHonest] = 60 - af.of60
			cfg.Validators[kind] = af.of60
			m := newModel(cfg)
			require.NoError(t, m.run())
			rows := m.byKind()
			// Builds per honest publisher's claim: E[K], plus the rounds replayed after a
			// lie reached a market (a fake caught in its first round costs fewer).
			builds, claims := 0, 0
			for _, p := range m.pubs {
				if p.kind == pHonest {
					builds, claims = builds+p.builds, claims+p.claims
				}
			}
			perClaim := float64(builds) / float64(claims)
			fmt.Fprintf(&tab, "%-16s %-5s %14s %14s %20.2f %6.2f\n", vKindNames[kind], af.name, rows[vHonest].perMs.String()[:8],
				rows[kind].perMs.String()[:min(8, len(rows[kind].perMs.String()))], perClaim, expectedBuilds(r))
			require.True(t, rows[vHonest].perMs.GT(rows[kind].perMs), "f = %s %s: %s earn %s ubct/ms, honest %s",
				af.name, vKindNames[kind], vKindNames[kind], rows[kind].perMs, rows[vHonest].perMs)
			require.GreaterOrEqual(t, perClaim, expectedBuilds(r)*0.95)
			require.LessOrEqual(t, perClaim, float64(r.MaxRounds)+1)
		}
	}
	t.Log("\n" + tab.String())
}
