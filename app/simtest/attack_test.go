package simtest_test

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"

	"cosmossdk.io/collections"
	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/app"
	appparams "github.com/buildchain/buildchain/app/params"
	"github.com/buildchain/buildchain/app/simtest"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	"github.com/buildchain/buildchain/x/claims/curve"
	"github.com/buildchain/buildchain/x/claims/game"
	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	markettypes "github.com/buildchain/buildchain/x/market/types"
	valkeeper "github.com/buildchain/buildchain/x/validators/keeper"
	valtypes "github.com/buildchain/buildchain/x/validators/types"
)

const builders = 60

func ubct(n int64) sdk.Coin { return sdk.NewCoin(appparams.BondDenom, sdkmath.NewInt(n)) }

func invariants(a *app.App) map[string]sdk.Invariant {
	return map[string]sdk.Invariant{
		"validators/bonded-balance": valkeeper.BondedBalanceInvariant(a.ValidatorsKeeper),
		"claims/locked-deposits":    claimskeeper.LockedDepositsInvariant(a.ClaimsKeeper),
	}
}

// fakeRun is one simulation of fake claims only against builders of which bad are of kind
// k, with markets that never close (a caught fake stays DISPUTED): it returns the finished
// claims' verdicts (accepted = VALID, caught = DISPUTED) and the rounds they played.
func fakeRun(t *testing.T, seed int64, k simtest.Kind, bad int, fakes uint64) (accepted, caught, rounds int) {
	pop := &simtest.Population{Builders: builders, Bad: bad, BadKind: k, Bond: ubct(1_000_000_000), Fund: sdkmath.NewInt(1_000_000_000_000),
		Params: func(_ *claimstypes.Params, _ *valtypes.Params, m *markettypes.Params, _ *bcttypes.Params) {
			m.CommitBlocks = 1_000_000 // markets stay open: the verdict of interest is the game's
		}}
	blocks := int(fakes)/3 + 30 // about 4 claims a block, then 20 blocks to finish them
	play := simtest.Play{Pop: pop, FakePermille: 1000, MaxClaims: fakes, SubmitUntil: int64(blocks) - 20}
	r := simtest.RunWith(t, simtest.Options{Seed: seed, Blocks: blocks, PerBlock: 40, Accounts: builders + 20, Genesis: pop.Genesis, Ops: play.Ops,
		Invariants: invariants, AtEndOnly: true})
	unfinished, missed := 0, 0
	byStatus := map[claimstypes.ClaimStatus]int{}
	require.NoError(t, r.App.ClaimsKeeper.Claims.Walk(r.Ctx, nil, func(_ uint64, c claimstypes.Claim) (bool, error) {
		switch c.Status {
		case claimstypes.CLAIM_STATUS_VALID:
			accepted++
		case claimstypes.CLAIM_STATUS_DISPUTED:
			caught++
		default:
			unfinished++
			byStatus[c.Status]++
			return false, nil
		}
		rounds += int(c.Rounds)
		for _, as := range c.Assignments {
			if as.Status == claimstypes.ROUND_STATUS_TIMED_OUT || as.Status == claimstypes.ROUND_STATUS_REVEAL_MISSED {
				missed++
			}
		}
		return false, nil
	}))
	t.Logf("%s %d/%d: %d fakes accepted, %d caught, %d unfinished %v, %d deadlines missed; %.3f rounds per claim", k, bad, builders, accepted, caught, unfinished, byStatus, missed,
		float64(rounds)/float64(accepted+caught))
	require.Zero(t, unfinished, "every fake is decided by the end")
	require.Zero(t, missed, "no deadline missed: the population stays as it was")
	return accepted, caught, rounds
}

var fractions = []struct {
	name string
	bad  int // of 60 builders
	f    *big.Rat
}{{"0.1", 6, big.NewRat(1, 10)}, {"0.25", 15, big.NewRat(1, 4)}, {"1/3", 20, big.NewRat(1, 3)}}

func ratFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}

func defaultGame() curve.Game {
	p := claimstypes.DefaultParams()
	return curve.FromRules(game.Rules{PContinue: p.PContinue, MinRounds: p.MinRounds, MaxRounds: p.MaxRounds})
}

// TestSimulateAttackFigures plays blind fake claims through the SDK simulation of the real app
// (every commit and reveal a signed tx, rounds drawn by the chain's EndBlock) against 60
// equally bonded builders of which a fraction f = 0.1, 0.25 or 1/3 collude with the publisher
// (they commit its fake output) or are lazy (they commit a guess: under blind rounds they have
// nothing to copy). The share of fakes the game accepts (VALID: no round dissented) agrees with
// x/claims/curve's exact value for c colluders of 60 within 4 standard errors; lazy builders
// accept none; the rounds per claim agree with E[K] (x/claims/README.md §Parameters).
func TestSimulateAttackFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation: skipped with -short")
	}
	g := defaultGame()
	var tab strings.Builder
	fmt.Fprintf(&tab, "%-9s %-5s %6s %9s %9s %9s %9s\n", "builders", "f", "fakes", "accepted", "exact", "4σ", "bound")
	rounds, claims := 0, 0
	for _, fr := range fractions {
		for _, k := range []simtest.Kind{simtest.Colluding, simtest.Lazy} {
			fakes := uint64(400)
			if k == simtest.Lazy {
				fakes = 60 // it accepts none: a few dozen fakes show it
			}
			acc, caught, rnds := fakeRun(t, int64(100+fr.bad)+int64(k), k, fr.bad, fakes)
			n := acc + caught
			rounds, claims = rounds+rnds, claims+n
			exact := 0.0
			if k == simtest.Colluding {
				exact = ratFloat(g.AcceptanceAmong(fr.bad, builders))
			}
			got, tol := float64(acc)/float64(n), 4*math.Sqrt(exact*(1-exact)/float64(n))
			fmt.Fprintf(&tab, "%-9s %-5s %6d %9.4f %9.4f %9.4f %9.4f\n", k, fr.name, n, got, exact, tol, ratFloat(g.Acceptance(fr.f)))
			require.GreaterOrEqual(t, n, int(fakes)/2, "too few fakes finished (the simulator's empty blocks)")
			if k == simtest.Lazy {
				require.Zero(t, acc, "lazy builders (f = %s) accepted a fake", fr.name)
				continue
			}
			require.InDelta(t, exact, got, tol+1.0/float64(n), "f = %s colluding: accepted %.4f, exact %.4f", fr.name, got, exact)
		}
	}
	// K is min_rounds plus a p_continue coin, so its variance is known exactly.
	var sq big.Rat
	for k, p := range g.Rounds() {
		sq.Add(&sq, new(big.Rat).Mul(p, big.NewRat(int64(k*k), 1)))
	}
	mean := ratFloat(g.Builds())
	sd := math.Sqrt(ratFloat(&sq) - mean*mean)
	perClaim := float64(rounds) / float64(claims)
	fmt.Fprintf(&tab, "rounds per claim: %.3f over %d claims, E[K] %.3f (4σ %.3f)\n", perClaim, claims, mean, 4*sd/math.Sqrt(float64(claims)))
	t.Log("blind fakes in the SDK simulation:\n" + tab.String())
	require.InDelta(t, mean, perClaim, 4*sd/math.Sqrt(float64(claims)))
}

// TestSimulateHonestIncomeAboveAttackers runs the whole game in the SDK simulation of the real
// app (claims, a quarter of them fake; commits and reveals; markets on every dissent, predicted
// by honest and colluding builders with stakes; x/bct's rewards every 20 blocks; slashing)
// against 60 builders of which a third are colluding, then a third lazy, and asserts that
// honest builders earn more per assigned build-ms (the work their assignments asked for) than
// the attackers: what an account earns is its balance and bond at the end (plus its stakes
// still in open markets) against genesis; no tx pays a fee.
func TestSimulateHonestIncomeAboveAttackers(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation: skipped with -short")
	}
	var tab strings.Builder
	fmt.Fprintf(&tab, "%-10s %5s %16s %16s %10s %10s\n", "attacker", "f", "honest ubct/ms", "attacker /ms", "markets", "claims")
	for _, k := range []simtest.Kind{simtest.Colluding, simtest.Lazy} {
		const claims, bad = 180, 20
		bond := ubct(1_000_000_000)
		pop := &simtest.Population{Builders: builders, Bad: bad, BadKind: k, Bond: bond, Fund: sdkmath.NewInt(1_000_000_000_000),
			Params: func(_ *claimstypes.Params, _ *valtypes.Params, m *markettypes.Params, b *bcttypes.Params) {
				m.CommitBlocks, m.RevealBlocks = 10, 10
				b.PaymentPeriodBlocks = 20
			}}
		play := simtest.Play{Pop: pop, FakePermille: 250, MaxClaims: claims, SubmitUntil: claims/3 + 10, Predict: true, Stake: ubct(40_000_000)}
		r := simtest.RunWith(t, simtest.Options{Seed: 200 + int64(k), Blocks: claims/3 + 80, PerBlock: 40, Accounts: builders + 20,
			Genesis: pop.Genesis, Ops: play.Ops, Invariants: invariants, AtEndOnly: true})
		a, ctx := r.App, r.Ctx

		// Work asked of each builder: the build time of every derivation assigned to it.
		assignedMs := map[string]int64{}
		require.NoError(t, a.ClaimsKeeper.Claims.Walk(ctx, nil, func(_ uint64, c claimstypes.Claim) (bool, error) {
			for _, as := range c.Assignments {
				assignedMs[as.Validator] += int64(simtest.TrueMs(c.DerivationCid))
			}
			return false, nil
		}))
		// Stakes still in open markets are the predictor's.
		locked := map[string]sdkmath.Int{}
		markets := 0
		require.NoError(t, a.MarketKeeper.Markets.Walk(ctx, nil, func(id uint64, m markettypes.Market) (bool, error) {
			markets++
			open, err := a.MarketKeeper.OpenMarkets.Has(ctx, collections.Join(m.RevealEnd, id))
			if err != nil || !open {
				return err != nil, err
			}
			preds, err := a.MarketKeeper.MarketPredictions(ctx, id)
			for _, p := range preds {
				if v, ok := locked[p.Predictor]; ok {
					locked[p.Predictor] = v.Add(p.Stake)
				} else {
					locked[p.Predictor] = p.Stake
				}
			}
			return err != nil, err
		}))
		net := map[simtest.Kind]sdkmath.Int{simtest.Honest: sdkmath.ZeroInt(), k: sdkmath.ZeroInt()}
		ms := map[simtest.Kind]int64{}
		for _, addr := range pop.BuilderAddrs() {
			kind, _ := pop.Kind(addr)
			end := a.BankKeeper.GetBalance(ctx, addr, appparams.BondDenom).Amount
			if v, err := a.ValidatorsKeeper.GetValidator(ctx, addr); err == nil {
				end = end.Add(v.Bond.Amount)
			}
			if l, ok := locked[addr.String()]; ok {
				end = end.Add(l)
			}
			net[kind] = net[kind].Add(end.Sub(pop.StartBalance(addr)).Sub(bond.Amount))
			ms[kind] += assignedMs[addr.String()]
		}
		perMs := func(kind simtest.Kind) sdkmath.LegacyDec {
			return sdkmath.LegacyNewDecFromInt(net[kind]).QuoInt64(ms[kind])
		}
		fmt.Fprintf(&tab, "%-10s %5s %16s %16s %10d %10d\n", k, "1/3", perMs(simtest.Honest).String()[:10], perMs(k).String()[:min(10, len(perMs(k).String()))], markets, claims)
		require.Positive(t, ms[k], "the attackers were assigned work")
		require.Positive(t, markets, "dissents opened markets")
		require.True(t, perMs(simtest.Honest).GT(perMs(k)), "%s builders earn %s ubct per assigned ms, honest ones %s", k, perMs(k), perMs(simtest.Honest))
	}
	t.Log("income per assigned build-ms in the SDK simulation:\n" + tab.String())
}
