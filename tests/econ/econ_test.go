package econ

import (
	"fmt"
	"strings"
	"testing"

	"cosmossdk.io/math"
	"github.com/stretchr/testify/require"
)

type kindRow struct {
	n, assignments              int
	assignedMs, builtMs, wallMs int64
	rewards, exposed, lost, net math.Int
	perMs                       math.LegacyDec
}

func (m *model) byKind() [4]kindRow {
	var rows [4]kindRow
	for i := range rows {
		rows[i] = kindRow{rewards: math.ZeroInt(), exposed: math.ZeroInt(), lost: math.ZeroInt(), net: math.ZeroInt()}
	}
	for _, v := range m.vals {
		r := &rows[v.kind]
		r.n++
		r.assignments += v.assignments
		r.assignedMs += v.assignedMs
		r.builtMs += v.builtMs
		r.wallMs += v.wallMs
		r.rewards = r.rewards.Add(v.rewards)
		r.exposed = r.exposed.Add(v.exposed)
		r.lost = r.lost.Add(v.lost)
	}
	for i := range rows {
		r := &rows[i]
		r.net = r.rewards.Add(r.exposed).Sub(r.lost)
		r.perMs = math.LegacyZeroDec()
		if r.assignedMs > 0 {
			r.perMs = math.LegacyNewDecFromInt(r.net).QuoInt64(r.assignedMs)
		}
	}
	return rows
}

// holdings recomputes the supply from every account's balance, independently
// of the minted/burned counters.
func (m *model) holdings() math.Int {
	h := m.cfg.OtherSupply.Add(m.devFund).Add(m.carry)
	for _, v := range m.vals {
		h = h.Add(v.bond).Add(v.rewards).Add(v.exposed)
	}
	for _, p := range m.pubs {
		h = h.Sub(p.depositsLost).Sub(p.feesPaid)
	}
	for _, a := range m.allAccounts() {
		h = h.Add(a.paid).Sub(a.staked)
	}
	return h
}

func (m *model) allAccounts() []*account {
	out := append(append([]*account(nil), m.traders...), m.allies...)
	for _, a := range m.parties {
		out = append(out, a)
	}
	return out
}

func bctStr(x math.Int) string {
	return math.LegacyNewDecFromInt(x).QuoInt64(1_000_000).String()[:strings.Index(math.LegacyNewDecFromInt(x).QuoInt64(1_000_000).String(), ".")+3]
}

func (m *model) table() string {
	var b strings.Builder
	rows := m.byKind()
	fmt.Fprintf(&b, "validators (%d claims, %d periods, weight by efficiency: %v)\n", m.cfg.Claims, m.cfg.Claims/m.cfg.ClaimsPerPeriod, m.cfg.WeightByEfficiency)
	fmt.Fprintf(&b, "%-16s %3s %6s %12s %12s %12s %12s %12s %12s %14s %8s\n", "kind", "n", "assign", "assigned ms", "built ms", "rewards BCT", "exposer BCT", "slashed BCT", "net BCT", "ubct/assign-ms", "vs honest")
	honest := rows[vHonest].perMs
	for k, r := range rows {
		ratio := "-"
		if !honest.IsZero() {
			ratio = r.perMs.Quo(honest).String()[:6]
		}
		fmt.Fprintf(&b, "%-16s %3d %6d %12d %12d %12s %12s %12s %12s %14s %8s\n", vKindNames[k], r.n, r.assignments, r.assignedMs, r.builtMs,
			bctStr(r.rewards), bctStr(r.exposed), bctStr(r.lost), bctStr(r.net), r.perMs.String()[:strings.Index(r.perMs.String(), ".")+5], ratio)
	}
	fmt.Fprintf(&b, "\npublishers\n%-26s %3s %7s %6s %12s %13s %16s %12s %16s\n", "kind", "n", "claims", "valid", "misbehaviour", "deposits lost", "lies to market", "lies slashed", "lies undetected")
	for k := range pKindNames {
		var n, claims, valid, misb, toMkt, sl, und int
		lost := math.ZeroInt()
		for _, p := range m.pubs {
			if p.kind != pKind(k) {
				continue
			}
			n++
			claims += p.claims
			valid += p.valid
			misb += p.misb
			lost = lost.Add(p.depositsLost)
			toMkt += p.liesToMarket
			sl += p.liesSlashed
			und += p.liesUndetected
		}
		fmt.Fprintf(&b, "%-26s %3d %7d %6d %12d %13s %16d %12d %16d\n", pKindNames[k], n, claims, valid, misb, bctStr(lost), toMkt, sl, und)
	}
	tp, tl, ap, al := math.ZeroInt(), math.ZeroInt(), math.ZeroInt(), math.ZeroInt()
	for _, a := range m.traders {
		tp, tl = tp.Add(a.paid.Sub(a.staked)), tl.Add(a.lost)
	}
	for _, a := range m.allies {
		ap, al = ap.Add(a.paid.Sub(a.staked)), al.Add(a.lost)
	}
	fmt.Fprintf(&b, "\nmarkets: %d (truth ND %d, MISBEHAVIOUR_CLAIM %d, MISBEHAVIOUR_REPORT %d), undecided %d, decided wrongly %d, honest actors wrongly slashed %d\n",
		m.markets.markets, m.markets.byTruth[1], m.markets.byTruth[2], m.markets.byTruth[3], m.markets.undecided, m.markets.wrong, m.wrongSlash)
	pp := math.ZeroInt()
	for _, a := range m.parties {
		pp = pp.Add(a.paid.Sub(a.staked))
	}
	fmt.Fprintf(&b, "predictors: honest traders net %s BCT, honest dispute parties net %s BCT, liars' allies net %s BCT\n", bctStr(tp), bctStr(pp), bctStr(ap))
	fmt.Fprintf(&b, "supply: minted %s BCT, burned %s BCT, dev fund %s BCT, carried over %s BCT\n", bctStr(m.minted), bctStr(m.burned), bctStr(m.devFund), bctStr(m.carry))
	return b.String()
}

func TestEconomicSimulation(t *testing.T) {
	cfg := defaultConfig()
	m := newModel(cfg)
	require.NoError(t, m.run())
	t.Log("\n" + m.table())

	// Every ubct is accounted for: holdings == initial + minted − burned.
	initial := cfg.OtherSupply.Add(cfg.Bond.MulRaw(int64(len(m.vals))))
	require.Equal(t, initial.Add(m.minted).Sub(m.burned), m.supply)
	require.Equal(t, m.supply, m.holdings(), "balances do not add up to the supply")

	// Honest building pays best per unit of assigned work.
	rows := m.byKind()
	require.True(t, rows[vHonest].perMs.IsPositive())
	for _, k := range []vKind{vLazy, vLiar} {
		require.True(t, rows[vHonest].perMs.GT(rows[k].perMs), "%s earns %s ubct/ms, honest %s", vKindNames[k], rows[k].perMs, rows[vHonest].perMs)
	}
	// Reporting slowly buys little: a persistent 3× reporter is paid the
	// average validator's time once its efficiency factor is learnt; what
	// is left is the learning phase (its first multi-report claims).
	slowGain := rewardsPerMs(rows[vSlow]).Quo(rewardsPerMs(rows[vHonest]))
	t.Logf("slow-reporting rewards per assigned ms vs honest: %s", slowGain)
	require.True(t, slowGain.LT(math.LegacyMustNewDecFromStr("1.1")), "slow reporting gains %s", slowGain)
	// Every lie that reached a market was slashed.
	require.Empty(t, m.liarsMissed, "lies that reached a market but were not slashed")
	// The scenario really exercised the market.
	require.Greater(t, m.markets.byTruth[2], 10)
	require.Greater(t, m.markets.byTruth[3], 10)
	require.Greater(t, m.markets.byTruth[1], 10)
}

func rewardsPerMs(r kindRow) math.LegacyDec {
	return math.LegacyNewDecFromInt(r.rewards).QuoInt64(r.assignedMs)
}

// TestNormalizedAverageMeasured compares the plain u_a (x/bct/README.md) with the
// efficiency-normalized u_a x/bct uses: what a 3× slow reporter earns per
// assigned build-ms relative to an honest one, in one run each.
func TestNormalizedAverageMeasured(t *testing.T) {
	var gain [2]math.LegacyDec
	for i, raw := range []bool{true, false} {
		cfg := defaultConfig()
		cfg.RawAverage = raw
		m := newModel(cfg)
		require.NoError(t, m.run())
		rows := m.byKind()
		gain[i] = rewardsPerMs(rows[vSlow]).Quo(rewardsPerMs(rows[vHonest]))
	}
	t.Logf("3x slow reporter's rewards per assigned build-ms / honest's: plain u_a %s, normalized u_a %s", gain[0], gain[1])
	require.True(t, gain[1].LT(gain[0]), "normalizing must reduce the gain of slow reporting")
}

// TestWeightingInvitesUnderReporting measures why assignments are NOT weighted by the
// efficiency factor by default: the factor comes from self-reported build times, and a
// validator that reports a quarter of its real time pays nothing for it (rewards use the
// normalized u_a) but, with weighting, gets up to 4× the assignments. The table compares
// total net income per validator of such under-reporters with honest ones.
func TestWeightingInvitesUnderReporting(t *testing.T) {
	var assigned, income [2]float64 // under-reporter / honest, per validator
	for i, by := range []bool{false, true} {
		cfg := defaultConfig()
		cfg.WeightByEfficiency = by
		cfg.SlowPermille = 250
		m := newModel(cfg)
		require.NoError(t, m.run())
		rows := m.byKind()
		h, u := rows[vHonest], rows[vSlow]
		hPer := math.LegacyNewDecFromInt(h.net).QuoInt64(int64(h.n))
		uPer := math.LegacyNewDecFromInt(u.net).QuoInt64(int64(u.n))
		assigned[i] = (float64(u.assignments) / float64(u.n)) / (float64(h.assignments) / float64(h.n))
		income[i] = uPer.Quo(hPer).MustFloat64()
		t.Logf("weight by efficiency %v: assignments per validator honest %.1f, under-reporting (¼ time) %.1f; net income per validator ratio under/honest %.3f",
			by, float64(h.assignments)/float64(h.n), float64(u.assignments)/float64(u.n), income[i])
	}
	// Unweighted (the default), under-reporting buys neither assignments nor income.
	require.InDelta(t, 1, assigned[0], 0.25, "unweighted assignments under/honest")
	require.Less(t, income[0], 1.0, "unweighted, under-reporting must not pay")
	// Weighted, it buys both: the reason weighting is off by default.
	require.Greater(t, assigned[1], 2.0, "weighted assignments under/honest")
	require.Greater(t, income[1], 1.0, "weighted, under-reporting pays")
}

// TestAssignmentWeighting measures what weighting assignments by the
// efficiency factor (docs/ARCHITECTURE.md §Economics) does: the mean real time an assigned
// build takes, and honest validators' income, with and without it.
func TestAssignmentWeighting(t *testing.T) {
	var wall [2]float64
	var honest [2]math.LegacyDec
	for i, by := range []bool{false, true} {
		cfg := defaultConfig()
		cfg.WeightByEfficiency = by
		m := newModel(cfg)
		require.NoError(t, m.run())
		var w int64
		var n int
		for _, v := range m.vals {
			if v.kind == vHonest || v.kind == vSlow {
				w += v.wallMs
				n += v.assignments
			}
		}
		wall[i] = float64(w) / float64(n)
		honest[i] = m.byKind()[vHonest].perMs
	}
	t.Logf("mean real time of a building assignment: unweighted %.0f ms, weighted by efficiency %.0f ms (ratio %.3f)", wall[0], wall[1], wall[1]/wall[0])
	t.Logf("honest income ubct/assigned-ms: unweighted %s, weighted %s", honest[0], honest[1])
	require.Less(t, wall[1], wall[0], "weighting sends builds to the faster validators")
	require.True(t, honest[0].IsPositive() && honest[1].IsPositive())
}

// TestFastEfficiencyLearning measures economics.EfficiencyWeight (plain mean of a
// validator's first efficiency samples) against the fixed moving-average weight from the
// start: what a 3× slow reporter earns per assigned build-ms relative to an honest one.
func TestFastEfficiencyLearning(t *testing.T) {
	var gain [2]math.LegacyDec
	for i, fast := range []bool{false, true} {
		cfg := defaultConfig()
		cfg.FastLearning = fast
		m := newModel(cfg)
		require.NoError(t, m.run())
		rows := m.byKind()
		gain[i] = rewardsPerMs(rows[vSlow]).Quo(rewardsPerMs(rows[vHonest]))
	}
	t.Logf("3x slow reporter's rewards per assigned build-ms / honest's: fixed weight 1/8 %s, mean of first samples %s", gain[0], gain[1])
	require.True(t, gain[1].LT(gain[0]))
}

// TestForceRoundAfterMarket measures the stricter game variant (a round is forced after
// every decided market; an undecided one ends its claim EXPIRED either way): markets played
// and lies missed.
func TestForceRoundAfterMarket(t *testing.T) {
	var markets [2]int
	var honest [2]math.LegacyDec
	for i, force := range []bool{false, true} {
		cfg := defaultConfig()
		cfg.ForceAfterMarket = force
		m := newModel(cfg)
		require.NoError(t, m.run())
		markets[i], honest[i] = m.markets.markets, m.byKind()[vHonest].perMs
		t.Logf("force a round after every market %v: %d markets, %d lies reached a market unslashed, honest ubct/assigned-ms %s",
			force, m.markets.markets, len(m.liarsMissed), honest[i])
		require.Empty(t, m.liarsMissed, "lies that reached a market but were not slashed (force %v)", force)
	}
	// The stricter variant plays more markets and pays honest builders less per ms: it
	// buys no detection the default game lacks here.
	require.Greater(t, markets[1], markets[0])
	require.True(t, honest[1].LT(honest[0]), "honest income per ms forced %s, default %s", honest[1], honest[0])
}

// TestMinRoundsMeasured measures the price of detection in the full economy (a quarter of
// the validators lazy or lying, 15% of claims fake), with the claimed output public (the game
// before blind rounds: a lazy builder copies it) and with blind rounds (it can only guess):
// the share of fake claims never disputed, and assignments per claim. Blind rounds leave only
// the colluders to rubber-stamp a fake, and more mandatory rounds catch more of those.
func TestMinRoundsMeasured(t *testing.T) {
	if testing.Short() {
		t.Skip("full economy runs")
	}
	rate := map[bool][]float64{}
	for _, open := range []bool{true, false} {
		for _, mr := range []uint32{1, 2} {
			undetected, fake, builds := 0, 0, 0
			cfg := defaultConfig()
			cfg.Claims = 400
			cfg.Open = open
			cfg.Rules.MinRounds = mr
			m := newModel(cfg)
			require.NoError(t, m.run())
			for _, p := range m.pubs {
				undetected += p.liesUndetected
				if p.kind == pLiar {
					fake += p.claims
				}
			}
			for _, v := range m.vals {
				builds += v.assignments
			}
			r := float64(undetected) / float64(fake)
			rate[open] = append(rate[open], r)
			t.Logf("claimed output public %v, min_rounds %d: fake claims never disputed %d of %d (%.1f%%), assignments per claim %.2f",
				open, mr, undetected, fake, 100*r, float64(builds)/float64(cfg.Claims))
		}
	}
	require.Less(t, rate[false][0], rate[true][0], "blind rounds must leave fewer fakes undisputed")
	require.LessOrEqual(t, rate[false][1], rate[true][1])
	require.Less(t, rate[false][1], rate[false][0], "a second mandatory round must catch more fakes")
	require.Less(t, rate[true][1], rate[true][0])
}
