package curve

import (
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/x/claims/game"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func defaults() Game {
	p := claimstypes.DefaultParams()
	return FromRules(game.Rules{PContinue: p.PContinue, MinRounds: p.MinRounds, MaxRounds: p.MaxRounds})
}

func TestRoundsAreADistribution(t *testing.T) {
	for _, g := range []Game{
		{MinRounds: 1, MaxRounds: 1, PContinue: rat("0")},
		{MinRounds: 1, MaxRounds: 8, PContinue: rat("1/2")},
		{MinRounds: 2, MaxRounds: 3, PContinue: rat("3/10")},
		{MinRounds: 3, MaxRounds: 5, PContinue: rat("1")},
	} {
		require.NoError(t, g.Validate())
		sum := new(big.Rat)
		for k, p := range g.Rounds() {
			require.GreaterOrEqual(t, p.Sign(), 0)
			if uint32(k) < g.MinRounds {
				require.Zero(t, p.Sign(), "no claim plays fewer than min_rounds")
			}
			sum.Add(sum, p)
		}
		require.Equal(t, "1", sum.RatString(), "%+v", g)
	}
	// p_continue 1 plays max_rounds always.
	g := Game{MinRounds: 3, MaxRounds: 5, PContinue: rat("1")}
	require.Equal(t, "5", g.Builds().RatString())
	require.Equal(t, "1/32", g.Acceptance(rat("1/2")).RatString())
}

func TestValidate(t *testing.T) {
	require.Error(t, Game{MinRounds: 0, MaxRounds: 1, PContinue: rat("0")}.Validate())
	require.Error(t, Game{MinRounds: 2, MaxRounds: 1, PContinue: rat("0")}.Validate())
	require.Error(t, Game{MinRounds: 1, MaxRounds: 1, PContinue: rat("11/10")}.Validate())
	require.Error(t, Game{MinRounds: 1, MaxRounds: 1, PContinue: rat("-1/10")}.Validate())
	require.Error(t, Game{MinRounds: 1, MaxRounds: 1}.Validate())
}

// The defaults' figures by hand: K is 2 with chance 7/10 and 3 with chance 3/10.
func TestDefaultsByHand(t *testing.T) {
	g := defaults()
	require.Equal(t, "3/10", g.PContinue.RatString(), "FromRules converts the LegacyDec exactly")
	require.Equal(t, "23/10", g.Builds().RatString())
	// (7/10)·(1/3)² + (3/10)·(1/3)³ = 7/90 + 1/90.
	a := g.Acceptance(rat("1/3"))
	require.Equal(t, "4/45", a.RatString())
	require.Equal(t, "-1/45", Profit(a, rat("10")).RatString())
	require.Equal(t, "41/4", BreakEven(a).RatString())
	// 20 colluders among 60: (7/10)·(20/60)(19/59) + (3/10)·(20/60)(19/59)(18/58).
	want := new(big.Rat).Add(
		new(big.Rat).Mul(rat("7/10"), rat("380/3540")),
		new(big.Rat).Mul(rat("3/10"), rat("6840/205320")))
	require.Equal(t, want.RatString(), g.AcceptanceAmong(20, 60).RatString())
	require.Negative(t, g.AcceptanceAmong(20, 60).Cmp(a), "without replacement is below the bound")
	require.Zero(t, g.AcceptanceAmong(1, 60).Sign(), "one colluder cannot fill two rounds")
	require.Equal(t, "1", g.AcceptanceAmong(60, 60).RatString())
	require.Nil(t, BreakEven(new(big.Rat)))
}

// TestDefaultsAreTheCheapestSafeGame is the rule the defaults were chosen by (x/claims/README.md
// §Parameters): at f = 1/3 of the bond colluding, a lying publisher loses money for every gain
// up to 10 deposits per accepted fake, and no game of the grid does so with fewer builds per
// claim. It fails if the defaults or the curve change without the other.
func TestDefaultsAreTheCheapestSafeGame(t *testing.T) {
	f, gain := rat("1/3"), rat("10")
	best, ok := DefaultGrid().Cheapest(f, gain)
	require.True(t, ok)
	d := defaults()
	require.Equal(t, best.MinRounds, d.MinRounds)
	require.Equal(t, best.MaxRounds, d.MaxRounds)
	require.Equal(t, best.PContinue.RatString(), d.PContinue.RatString())
	for g := int64(0); g <= 10; g++ {
		p := Profit(d.Acceptance(f), big.NewRat(g, 1))
		require.Negative(t, p.Sign(), "gain %d deposits: profit %s", g, p.RatString())
		// and for a finite population of 60 equal bonds, 20 colluding
		require.Negative(t, Profit(d.AcceptanceAmong(20, 60), big.NewRat(g, 1)).Sign())
	}
	require.False(t, d.Safe(f, rat("11")), "the margin is thin: a gain of 11 deposits pays")
	// Every cheaper game of the grid is unsafe (the search is exhaustive, checked here
	// independently of Cheapest's bookkeeping).
	gr := DefaultGrid()
	for m := gr.MinRounds; m <= gr.MaxMin; m++ {
		for mx := m; mx <= gr.MaxMax; mx++ {
			for p := int64(0); p < 20; p++ {
				g := Game{MinRounds: m, MaxRounds: mx, PContinue: big.NewRat(p, 20)}
				if g.Builds().Cmp(d.Builds()) < 0 {
					require.False(t, g.Safe(f, gain), "%+v is cheaper and safe", g)
				}
			}
		}
	}
}

// readmeGames are the rows of x/claims/README.md's table.
func readmeGames() []Game {
	g := func(m uint32, p string, mx uint32) Game { return Game{MinRounds: m, MaxRounds: mx, PContinue: rat(p)} }
	return []Game{
		g(1, "1/2", 8), g(1, "17/20", 8), g(2, "0", 2), g(2, "1/4", 3),
		g(2, "3/10", 3), g(2, "3/10", 8), g(2, "1/2", 8), g(3, "0", 3),
	}
}

// Table is x/claims/README.md's table of the curve, from the exact values rounded for print.
func table() string {
	var tab strings.Builder
	tab.WriteString("| min_rounds | p_continue | max_rounds | builds/claim | accepted at f=0.1 | f=0.25 | f=1/3 | profit at f=1/3, gain 10× deposit | break-even gain at f=1/3 |\n")
	tab.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	third := rat("1/3")
	for _, g := range readmeGames() {
		a := g.Acceptance(third)
		p := Profit(a, rat("10"))
		sign := "+"
		if p.Sign() < 0 {
			sign = ""
		}
		pc := strings.TrimSuffix(strings.TrimRight(g.PContinue.FloatString(2), "0"), ".")
		fmt.Fprintf(&tab, "| %d | %s | %d | %s | %s | %s | %s | %s%s | %s |\n", g.MinRounds, pc, g.MaxRounds,
			g.Builds().FloatString(2), g.Acceptance(rat("1/10")).FloatString(4), g.Acceptance(rat("1/4")).FloatString(4),
			a.FloatString(4), sign, p.FloatString(3), BreakEven(a).FloatString(2))
	}
	return tab.String()
}

// TestReadmeTable: x/claims/README.md's table is the curve's (it cannot drift from the code).
func TestReadmeTable(t *testing.T) {
	tab := table()
	t.Log("\n" + tab)
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	require.True(t, strings.Contains(string(readme), tab), "x/claims/README.md's table differs from the curve; paste the table above")
}
