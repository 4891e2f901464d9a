package econ

import (
	"fmt"
	"strings"
	"testing"

	"cosmossdk.io/math"
	"github.com/stretchr/testify/require"
)

// TestDecoyAssignmentsMeasured measures what decoy assignments (config.DecoyPermille: one
// rebuild of a derivation whose output the chain already knows, for 10% of the claims; not on
// chain) add against a quarter of lazy builders with the default game: with markets that decide
// and with empty markets (no traders, the parties' stakes far below quorum: every market is
// undecided, so a lazy dissent is never judged). It asserts the cost (about DecoyPermille/1000 more builds per
// claim), that decoys never raise a lazy builder's income per assigned build-ms, and that with
// empty markets they lower it; the table is x/claims/README.md §Parameters' decoy figure.
func TestDecoyAssignmentsMeasured(t *testing.T) {
	if testing.Short() {
		t.Skip("full economy runs")
	}
	type row struct {
		lazyPerMs, honestPerMs math.LegacyDec
		builds                 float64
		decoys, caught         int
	}
	// Each figure is over seeds 1..seeds: a decoy draw shifts the model's random stream, so one
	// seed's builds per claim with and without decoys differ by more than the decoys' cost.
	const seeds = 4
	run := func(empty bool, decoys int64) row {
		r := row{lazyPerMs: math.LegacyZeroDec(), honestPerMs: math.LegacyZeroDec()}
		builds, claims := 0, 0
		for seed := int64(1); seed <= seeds; seed++ {
			cfg := defaultConfig()
			cfg.Seed = seed
			cfg.Rules = defaultRules()
			cfg.Claims = 600
			cfg.Validators = [4]int{}
			cfg.Validators[vHonest], cfg.Validators[vLazy] = 45, 15
			cfg.DecoyPermille = decoys
			if empty {
				// Only the parties stake, far below quorum: every market is undecided.
				cfg.HonestTraders, cfg.Allies, cfg.Quorum = 0, 0, cfg.PartyStake.MulRaw(100)
			}
			m := newModel(cfg)
			require.NoError(t, m.run())
			rows := m.byKind()
			for _, p := range m.pubs {
				builds, claims = builds+p.builds, claims+p.claims
			}
			r.lazyPerMs = r.lazyPerMs.Add(rows[vLazy].perMs.QuoInt64(seeds))
			r.honestPerMs = r.honestPerMs.Add(rows[vHonest].perMs.QuoInt64(seeds))
			r.decoys, r.caught = r.decoys+m.decoys, r.caught+m.decoysCaught
		}
		r.builds = float64(builds) / float64(claims)
		return r
	}
	var tab strings.Builder
	fmt.Fprintf(&tab, "%-16s %-7s %14s %14s %12s %8s\n", "markets", "decoys", "honest ubct/ms", "lazy ubct/ms", "builds/claim", "caught")
	for _, empty := range []bool{false, true} {
		name := "decide"
		if empty {
			name = "empty"
		}
		without, with := run(empty, 0), run(empty, 100)
		for _, r := range []struct {
			d string
			r row
		}{{"none", without}, {"10%", with}} {
			fmt.Fprintf(&tab, "%-16s %-7s %14.4f %14.4f %12.3f %4d/%-4d\n", name, r.d, r.r.honestPerMs.MustFloat64(), r.r.lazyPerMs.MustFloat64(),
				r.r.builds, r.r.caught, r.r.decoys)
		}
		require.InDelta(t, 0.1, with.builds-without.builds, 0.05, "markets %s: a decoy for 10%% of the claims costs about 0.1 builds per claim", name)
		require.Positive(t, with.caught, "decoys caught lazy builders")
		require.True(t, with.lazyPerMs.LTE(without.lazyPerMs), "markets %s: decoys raised the lazy income", name)
		if empty {
			require.True(t, with.lazyPerMs.LT(without.lazyPerMs), "empty markets: decoys must lower the lazy income")
		}
	}
	t.Log("decoy assignments against a quarter of lazy builders:\n" + tab.String())
}
