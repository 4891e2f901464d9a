package econ

import (
	"crypto/sha256"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"cosmossdk.io/collections"
	"cosmossdk.io/math"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	marketkeeper "github.com/buildchain/buildchain/x/market/keeper"
	"github.com/buildchain/buildchain/x/market/tally"
	"github.com/buildchain/buildchain/x/market/testutil"
	markettypes "github.com/buildchain/buildchain/x/market/types"
	validatorskeeper "github.com/buildchain/buildchain/x/validators/keeper"
	validatorstypes "github.com/buildchain/buildchain/x/validators/types"
)

// TestEconomicSimulationOnKeepers plays the economic simulation on the chain itself: the
// real x/validators, x/claims, x/market and x/bct keepers on real x/auth and x/bank
// (testutil.Full, wired as app.go wires them), block after block, with every module's
// invariants checked each block. Agents act through the modules' Msg servers; incomes are
// read from bank balances and bonds, so every reward, exposer share, market payout and
// slash is the chain's own. Claims are blind (x/claims/README.md §Blind rounds): every party
// commits, then reveals once the claim is REVEALING; a lazy builder, which cannot see the
// claimed output, commits a guess.
func TestEconomicSimulationOnKeepers(t *testing.T) {
	if testing.Short() {
		t.Skip("economic simulation on the keepers: skipped with -short")
	}
	const (
		claims         = 1000
		claimsPerBlock = 2
	)
	rng := rand.New(rand.NewSource(5))
	f := testutil.NewFull(t)
	cm, vm, mm := claimskeeper.NewMsgServerImpl(f.Claims), validatorskeeper.NewMsgServerImpl(f.Validators), marketkeeper.NewMsgServerImpl(f.Market)
	// Short market phases keep the run fast; everything else is the default.
	mp, err := f.Market.Params.Get(f.Ctx)
	require.NoError(t, err)
	mp.CommitBlocks, mp.RevealBlocks = 3, 3
	require.NoError(t, f.Market.Params.Set(f.Ctx, mp))
	vp, err := f.Validators.Params.Get(f.Ctx)
	require.NoError(t, err)
	bond := vp.MinBond.Amount.MulRaw(2)

	type agent struct {
		addr       sdk.AccAddress
		kind       vKind
		speed      int64
		start      math.Int // liquid balance at start
		assigned   int
		assignedMs int64
	}
	var vals []*agent
	byAddr := map[string]*agent{}
	counts := [4]int{24, 6, 6, 4}
	for k, n := range counts {
		for i := 0; i < n; i++ {
			a := &agent{addr: testutil.Addr(fmt.Sprintf("v%d-%d", k, i)), kind: vKind(k), speed: 600 + rng.Int63n(1001)}
			f.Fund(t, a.addr, bond.Int64()+10_000*1_000_000) // liquid funds to stake in its own defence
			vals = append(vals, a)
			byAddr[a.addr.String()] = a
		}
	}
	type pub struct {
		addr sdk.AccAddress
		kind pKind
	}
	var pubs []pub
	for k, n := range [3]int{14, 3, 3} {
		for i := 0; i < n; i++ {
			p := pub{testutil.Addr(fmt.Sprintf("p%d-%d", k, i)), pKind(k)}
			f.Fund(t, p.addr, 100_000*1_000_000)
			pubs = append(pubs, p)
		}
	}
	var traders, allies []sdk.AccAddress
	for i := 0; i < 8; i++ {
		traders = append(traders, testutil.Addr(fmt.Sprintf("trader%d", i)))
		f.Fund(t, traders[i], 100_000*1_000_000)
	}
	for i := 0; i < 2; i++ {
		allies = append(allies, testutil.Addr(fmt.Sprintf("ally%d", i)))
		f.Fund(t, allies[i], 100_000*1_000_000)
	}
	// Other holders: the supply inflation is computed on (10^8 BCT, as in the model).
	f.Fund(t, testutil.Addr("others"), 100_000_000*1_000_000)
	beacon := func(h int64) []byte { s := sha256.Sum256([]byte(fmt.Sprint("beacon", h))); return s[:] }
	require.NoError(t, f.Validators.SetBlockRandomness(f.Ctx, beacon(0)))
	for _, a := range vals {
		_, err := vm.RegisterValidator(f.Ctx, &validatorstypes.MsgRegisterValidator{Operator: a.addr.String(), Systems: []string{"x86_64-linux"},
			Bond: sdk.NewCoin(appparams.BondDenom, bond)})
		require.NoError(t, err)
		a.start = f.BK.GetBalance(f.Ctx, a.addr, appparams.BondDenom).Amount
	}

	type claimInfo struct {
		pub       pub
		avgMs     int64
		trueOut   string
		claimed   string
		toMarket  bool
		liarVals  map[string]bool // dissenting liars that reached a market
		marketsOK map[uint64]bool
	}
	info := map[uint64]*claimInfo{}
	// committed: what each (claim, round, validator) committed to, for its reveal.
	type result struct {
		out  string
		ms   uint64
		salt []byte
	}
	committed := map[string]result{}
	roundKey := func(id uint64, round uint32, v string) string { return fmt.Sprint(id, "/", round, "/", v) }
	pubSalt := func(id uint64) []byte {
		s := sha256.Sum256([]byte(fmt.Sprint("pub salt", id)))
		return s[:claimstypes.MinSaltLen]
	}
	secrets := map[string][]byte{}
	voted := map[uint64]bool{}
	outcomes := map[string]markettypes.Outcome{}
	submitted := 0
	out := func(s string) string { return testutil.CID(t, cid.DagProtobuf, s) }
	for step := 0; ; step++ {
		h := f.Ctx.BlockHeight()
		// New claims.
		for i := 0; i < claimsPerBlock && submitted < claims; i++ {
			p := pubs[rng.Intn(len(pubs))]
			ci := &claimInfo{pub: p, avgMs: 2000 + rng.Int63n(118001), liarVals: map[string]bool{}, marketsOK: map[uint64]bool{}}
			ci.trueOut = out(fmt.Sprint("true", submitted))
			ci.claimed = ci.trueOut
			switch p.kind {
			case pNondet:
				ci.claimed = out(fmt.Sprint("variant-publisher", submitted))
			case pLiar:
				ci.claimed = out(fmt.Sprint("fake", submitted))
			}
			drv := testutil.CID(t, cid.DagJSON, fmt.Sprint("drv", submitted))
			id, err := f.Claims.NextClaimID.Peek(f.Ctx)
			require.NoError(t, err)
			res, err := cm.SubmitClaim(f.Ctx, &claimstypes.MsgSubmitClaim{Publisher: p.addr.String(), DerivationCid: drv,
				OutputCommitment: claimstypes.ClaimCommitment(p.addr.String(), drv, ci.claimed, pubSalt(id)),
				System:           "x86_64-linux", Deposit: sdk.NewInt64Coin(appparams.BondDenom, 100*1_000_000)})
			require.NoError(t, err)
			require.Equal(t, id, res.ClaimId)
			info[res.ClaimId] = ci
			submitted++
		}
		// Assigned validators commit at once (no timeouts in this economy).
		open := openAssignments(t, f)
		for _, k := range open {
			a, ci := byAddr[k.K1().String()], info[k.K2()]
			c, err := f.Claims.GetClaim(f.Ctx, k.K2())
			require.NoError(t, err)
			a.assigned++
			a.assignedMs += ci.avgMs
			real := ci.avgMs * a.speed / 1000
			built := ci.trueOut
			if ci.pub.kind == pNondet {
				built = out(fmt.Sprint("variant", rng.Int63()))
			}
			report, ms := built, real
			switch a.kind {
			case vSlow:
				ms = 3 * real
			case vLazy: // it cannot see the claimed output: a guess
				report, ms = out(fmt.Sprint("guess", rng.Int63())), ci.avgMs
			case vLiar:
				report, ms = ci.claimed, ci.avgMs
				if ci.pub.kind != pLiar {
					report = out(fmt.Sprint("forged", rng.Int63()))
				}
			}
			ms = ms * (950 + rng.Int63n(101)) / 1000
			salt := sha256.Sum256([]byte("build salt " + roundKey(c.Id, c.Round, a.addr.String())))
			r := result{report, uint64(ms), salt[:claimstypes.MinSaltLen]}
			committed[roundKey(c.Id, c.Round, a.addr.String())] = r
			_, err = cm.CommitBuild(f.Ctx, &claimstypes.MsgCommitBuild{Validator: a.addr.String(), ClaimId: c.Id, Round: c.Round,
				Commitment: claimstypes.BuildCommitment(a.addr.String(), c.Id, c.Round, r.out, r.ms, r.salt)})
			require.NoError(t, err)
		}
		// REVEALING claims: the publisher and the committed builders reveal at once.
		var revealing []uint64
		require.NoError(t, f.Claims.RevealDeadlines.Walk(f.Ctx, nil, func(k collections.Pair[int64, uint64]) (bool, error) {
			revealing = append(revealing, k.K2())
			return false, nil
		}))
		for _, id := range revealing {
			c, err := f.Claims.GetClaim(f.Ctx, id)
			require.NoError(t, err)
			if !c.Revealed() {
				_, err = cm.RevealClaim(f.Ctx, &claimstypes.MsgRevealClaim{Publisher: c.Publisher, ClaimId: id, OutputCid: info[id].claimed, Salt: pubSalt(id)})
				require.NoError(t, err)
			}
			for _, a := range c.Assignments {
				if a.Status != claimstypes.ROUND_STATUS_COMMITTED {
					continue
				}
				r := committed[roundKey(id, a.Round, a.Validator)]
				_, err = cm.RevealBuild(f.Ctx, &claimstypes.MsgRevealBuild{Validator: a.Validator, ClaimId: id, Round: a.Round,
					OutputCid: r.out, BuildTimeMs: r.ms, Salt: r.salt})
				require.NoError(t, err)
			}
		}
		// Markets: predictors commit in the market's first block, reveal after commit_end.
		var markets []markettypes.Market
		require.NoError(t, f.Market.Markets.Walk(f.Ctx, nil, func(_ uint64, m markettypes.Market) (bool, error) {
			if m.Status == markettypes.MARKET_STATUS_OPEN {
				markets = append(markets, m)
			}
			return false, nil
		}))
		for _, m := range markets {
			ci := info[m.ClaimId]
			dissenter := byAddr[m.Dissenter]
			truth, lie, party := markettypes.OUTCOME_NON_DETERMINISM, markettypes.OUTCOME_UNSPECIFIED, ci.pub.addr
			switch {
			case ci.pub.kind == pLiar:
				truth, lie, party = markettypes.OUTCOME_MISBEHAVIOUR_CLAIM, markettypes.OUTCOME_NON_DETERMINISM, dissenter.addr
			case dissenter.kind == vLiar:
				truth, lie = markettypes.OUTCOME_MISBEHAVIOUR_REPORT, markettypes.OUTCOME_MISBEHAVIOUR_CLAIM
				ci.liarVals[m.Dissenter] = true
			case dissenter.kind == vLazy: // a wrong guess: nobody backs it
				truth = markettypes.OUTCOME_MISBEHAVIOUR_REPORT
				ci.liarVals[m.Dissenter] = true
			}
			ci.toMarket = true
			type vote struct {
				who    sdk.AccAddress
				o      markettypes.Outcome
				stake  int64
				reveal bool
			}
			var votes []vote
			// Votes go in at the first block of the market's commit phase this loop sees (a
			// market opened by another market's verdict opens in an EndBlock).
			if !voted[m.Id] && h <= m.CommitEnd {
				voted[m.Id] = true
				for _, tr := range traders {
					if rng.Float64() >= 0.8 {
						continue
					}
					o := truth
					if rng.Float64() >= 0.95 {
						o = markettypes.Outcome(1 + (int(truth)+rng.Intn(2))%3)
					}
					votes = append(votes, vote{tr, o, 20, rng.Float64() < 0.9})
				}
				votes = append(votes, vote{party, truth, 50, true})
				if lie != markettypes.OUTCOME_UNSPECIFIED {
					for _, al := range allies {
						votes = append(votes, vote{al, lie, 30, true})
					}
				}
				for _, v := range votes {
					salt := make([]byte, 16)
					rng.Read(salt)
					hash, err := tally.CommitHash(tally.Outcome(v.o), salt, v.who)
					require.NoError(t, err)
					_, err = mm.CommitPrediction(f.Ctx, &markettypes.MsgCommitPrediction{Predictor: v.who.String(), MarketId: m.Id,
						CommitHash: hash, Stake: sdk.NewInt64Coin(appparams.BondDenom, v.stake*1_000_000)})
					require.NoError(t, err)
					if v.reveal {
						key := fmt.Sprint(m.Id, v.who.String())
						secrets[key], outcomes[key] = salt, v.o
					}
				}
			}
			if h == m.CommitEnd+1 {
				preds, err := f.Market.MarketPredictions(f.Ctx, m.Id)
				require.NoError(t, err)
				for _, p := range preds {
					key := fmt.Sprint(m.Id, p.Predictor)
					if s, ok := secrets[key]; ok {
						_, err := mm.RevealPrediction(f.Ctx, &markettypes.MsgRevealPrediction{Predictor: p.Predictor, MarketId: m.Id, Outcome: outcomes[key], Salt: s})
						require.NoError(t, err)
					}
				}
			}
		}
		f.NextBlock(t, beacon(h+1))
		f.CheckInvariants(t)
		if submitted == claims && len(open) == 0 && len(revealing) == 0 && len(markets) == 0 && step > 0 {
			// Let the current payment period end so the last builds are paid too.
			p, err := f.Bct.Period.Get(f.Ctx)
			require.NoError(t, err)
			if p.TotalRewardable.IsZero() {
				break
			}
		}
		require.Less(t, step, 20000, "the economy never settles")
	}

	// Incomes from the chain's own balances and bonds.
	type row struct {
		n, assigned  int
		ms           int64
		net, rewards math.Int
	}
	var rows [4]row
	for i := range rows {
		rows[i].net, rows[i].rewards = math.ZeroInt(), math.ZeroInt()
	}
	for _, a := range vals {
		v, err := f.Validators.GetValidator(f.Ctx, a.addr)
		bondNow := math.ZeroInt()
		if err == nil {
			bondNow = v.Bond.Amount
		}
		liquid := f.BK.GetBalance(f.Ctx, a.addr, appparams.BondDenom).Amount
		r := &rows[a.kind]
		r.n++
		r.assigned += a.assigned
		r.ms += a.assignedMs
		r.net = r.net.Add(liquid.Sub(a.start)).Add(bondNow.Sub(bond))
		if st, err := f.Bct.ValidatorStats.Get(f.Ctx, a.addr); err == nil {
			r.rewards = r.rewards.Add(st.TotalRewards)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %3s %7s %12s %12s %14s %16s %9s %16s\n", "kind", "n", "assign", "assigned ms", "rewards BCT", "net BCT", "ubct/assign-ms", "vs honest", "rewards vs honest")
	per := make([]math.LegacyDec, 4)
	for k, r := range rows {
		per[k] = math.LegacyNewDecFromInt(r.net).QuoInt64(max(r.ms, 1))
	}
	bctStr := func(x math.Int) string {
		s := math.LegacyNewDecFromInt(x).QuoInt64(1_000_000).String()
		return s[:strings.Index(s, ".")+3]
	}
	rewPer := func(r row) math.LegacyDec { return math.LegacyNewDecFromInt(r.rewards).QuoInt64(max(r.ms, 1)) }
	for k, r := range rows {
		fmt.Fprintf(&b, "%-16s %3d %7d %12d %12s %14s %16s %9s %16s\n", vKindNames[k], r.n, r.assigned, r.ms, bctStr(r.rewards), bctStr(r.net),
			per[k].String()[:strings.Index(per[k].String(), ".")+5], per[k].Quo(per[vHonest]).String()[:6],
			rewPer(r).Quo(rewPer(rows[vHonest])).String()[:6])
	}
	// Lies that reached a market: the fake claims must be REJECTED, the forging validators'
	// reports REJECTED.
	byStatus := map[string]int{}
	var missed []string
	ids := make([]uint64, 0, len(info))
	for id := range info {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	liesToMarket := 0
	for _, id := range ids {
		ci := info[id]
		c, err := f.Claims.GetClaim(f.Ctx, id)
		require.NoError(t, err)
		byStatus[fmt.Sprint(ci.pub.kind, "/", c.Status.Short())]++
		if !ci.toMarket {
			continue
		}
		if ci.pub.kind == pLiar {
			liesToMarket++
			if c.Status != claimstypes.CLAIM_STATUS_REJECTED {
				missed = append(missed, fmt.Sprintf("claim %d (fake) ended %s", id, c.Status.Short()))
			}
		}
		for l := range ci.liarVals {
			liesToMarket++
			ok := false
			for _, as := range c.Assignments {
				if as.Validator == l && as.Status == claimstypes.ROUND_STATUS_REJECTED {
					ok = true
				}
			}
			if !ok {
				missed = append(missed, fmt.Sprintf("claim %d: forged report of %s not rejected", id, l))
			}
		}
	}
	totals, err := f.Bct.Totals.Get(f.Ctx)
	require.NoError(t, err)
	t.Logf("\n%d claims played on the keepers to height %d; claims by publisher kind (0 honest, 1 nondeterministic, 2 lying)/status %v\n%s"+
		"lies that reached a market: %d, slashed: %d; minted %s ubct, burned %s ubct",
		claims, f.Ctx.BlockHeight(), byStatus, b.String(), liesToMarket, liesToMarket-len(missed), totals.Minted, totals.Burned)

	require.True(t, per[vHonest].IsPositive())
	for _, k := range []vKind{vLazy, vLiar} {
		require.True(t, per[vHonest].GT(per[k]), "%s earns %s ubct/ms, honest %s", vKindNames[k], per[k], per[vHonest])
	}
	// The markets' voters are noisy by design (a trader abstains one time in five, votes wrong
	// one in twenty, a tenth never reveal; the liars' allies vote the lie), so a market can
	// miss its quorum or its plurality: with blind rounds every lazy guess goes to a market
	// too, and at seed 5 two of ~370 did (a fake ended VALID, a forged report stood). Allow
	// one lie in a hundred to slip through the markets, no more.
	require.LessOrEqual(t, 100*len(missed), liesToMarket, "lies not caught by their market: %v", missed)
	require.Greater(t, liesToMarket, 20)
}
