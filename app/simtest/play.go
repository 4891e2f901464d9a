package simtest

import (
	"encoding/binary"
	"math/rand"
	"strconv"

	"cosmossdk.io/collections"
	"github.com/ipfs/go-cid"

	"github.com/cosmos/cosmos-sdk/baseapp"
	sdk "github.com/cosmos/cosmos-sdk/types"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"
	"github.com/cosmos/cosmos-sdk/x/simulation"

	"github.com/buildchain/buildchain/app"
	claimssim "github.com/buildchain/buildchain/x/claims/simulation"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/market/tally"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

// Play is the game of a Population as simulation operations: publishers submit blind claims,
// a FakePermille share of them fake (the publisher lies and tells its colluders the fake
// output); builders commit by their Kind and reveal; publishers reveal. With Predict, builders
// predict in the markets the dissents open, with Stake: honest ones from their own build,
// colluding ones for the fake they committed (from their build on an honest claim), lazy ones
// never. At most MaxClaims claims are submitted (0: no bound), up to height SubmitUntil (0:
// always), so that the last ones can finish. No tx pays a fee: what an account earns or loses
// is what the game pays.
type Play struct {
	Pop          *Population
	FakePermille int
	MaxClaims    uint64
	SubmitUntil  int64
	Predict      bool
	Stake        sdk.Coin
}

// IsFake tells whether the claim about drv is fake (its publisher lies).
func (pl Play) IsFake(drv string) bool {
	return int(binary.BigEndian.Uint16(claimssim.Hash("fake?", drv)[:2]))%1000 < pl.FakePermille
}

// Ops are the operations, weighted so that commits and reveals keep up with the claims (a
// claim takes a submit, 2.3 commits and reveals with the default game, and its publisher's
// reveal) and no assignment or reveal misses its deadline.
func (pl Play) Ops(a *app.App) []simtypes.WeightedOperation {
	ops := []simtypes.WeightedOperation{
		simulation.NewWeightedOperation(8, pl.submit(a)),
		simulation.NewWeightedOperation(30, pl.commit(a)),
		simulation.NewWeightedOperation(30, pl.revealBuild(a)),
		simulation.NewWeightedOperation(15, pl.revealClaim(a)),
	}
	if pl.Predict {
		ops = append(ops, simulation.NewWeightedOperation(30, pl.predict(a)), simulation.NewWeightedOperation(30, pl.revealPrediction(a)))
	}
	return ops
}

func deliver(r *rand.Rand, bapp *baseapp.BaseApp, a *app.App, ctx sdk.Context, acc simtypes.Account, msg sdk.Msg, module string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
	return simulation.GenAndDeliverTx(simulation.OperationInput{R: r, App: bapp, TxGen: a.TxConfig(), Msg: msg, Context: ctx,
		SimAccount: acc, AccountKeeper: a.AccountKeeper, Bankkeeper: a.BankKeeper, ModuleName: module}, sdk.Coins{})
}

func (pl Play) submit(a *app.App) simtypes.Operation {
	return func(r *rand.Rand, bapp *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&claimstypes.MsgSubmitClaim{})
		if pl.SubmitUntil > 0 && ctx.BlockHeight() > pl.SubmitUntil {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "no more claims"), nil, nil
		}
		if next, err := a.ClaimsKeeper.NextClaimID.Peek(ctx); err != nil || (pl.MaxClaims > 0 && next > pl.MaxClaims) {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "no more claims"), nil, err
		}
		pubs := pl.Pop.Publishers()
		acc, ok := simtypes.FindAccount(accs, pubs[r.Intn(len(pubs))])
		if !ok {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "publisher is not a sim account"), nil, nil
		}
		params, err := a.ClaimsKeeper.Params.Get(ctx)
		if err != nil {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "params"), nil, err
		}
		drv := claimssim.RandomCID(r, cid.DagJSON)
		out := TrueOutput(drv)
		if pl.IsFake(drv) {
			out = FakeOutput(drv)
		}
		pub := acc.Address.String()
		msg := &claimstypes.MsgSubmitClaim{Publisher: pub, DerivationCid: drv, System: System, Deposit: params.MinDeposit,
			OutputCommitment: claimstypes.ClaimCommitment(pub, drv, out, salt("claim", pub, drv))}
		return deliver(r, bapp, a, ctx, acc, msg, claimstypes.ModuleName)
	}
}

// claimed is what the publisher of c claims (and reveals).
func (pl Play) claimed(c claimstypes.Claim) string {
	if pl.IsFake(c.DerivationCid) {
		return FakeOutput(c.DerivationCid)
	}
	return TrueOutput(c.DerivationCid)
}

func (pl Play) commit(a *app.App) simtypes.Operation {
	return func(r *rand.Rand, bapp *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&claimstypes.MsgCommitBuild{})
		var open []collections.Pair[sdk.AccAddress, uint64]
		if err := a.ClaimsKeeper.OpenAssignments.Walk(ctx, nil, func(k collections.Pair[sdk.AccAddress, uint64]) (bool, error) {
			open = append(open, k)
			return false, nil
		}); err != nil {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "walk"), nil, err
		}
		if len(open) == 0 {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "no open assignment"), nil, nil
		}
		pick := open[r.Intn(len(open))]
		kind, isBuilder := pl.Pop.Kind(pick.K1())
		acc, found := simtypes.FindAccount(accs, pick.K1())
		if !isBuilder || !found {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "not a builder of the population"), nil, nil
		}
		c, err := a.ClaimsKeeper.GetClaim(ctx, pick.K2())
		if err != nil {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "claim"), nil, err
		}
		v := acc.Address.String()
		round := uint32(0)
		for _, as := range c.Assignments {
			if as.Validator == v && as.Status == claimstypes.ROUND_STATUS_ASSIGNED {
				round = as.Round
			}
		}
		out, ms := commitOf(kind, v, c.DerivationCid, pl.IsFake(c.DerivationCid))
		msg := &claimstypes.MsgCommitBuild{Validator: v, ClaimId: c.Id, Round: round,
			Commitment: claimstypes.BuildCommitment(v, c.Id, round, out, ms, roundSalt(v, c.Id, round))}
		return deliver(r, bapp, a, ctx, acc, msg, claimstypes.ModuleName)
	}
}

// revealing returns the REVEALING claims.
func revealing(ctx sdk.Context, a *app.App) ([]claimstypes.Claim, error) {
	var out []claimstypes.Claim
	err := a.ClaimsKeeper.RevealDeadlines.Walk(ctx, nil, func(key collections.Pair[int64, uint64]) (bool, error) {
		c, err := a.ClaimsKeeper.GetClaim(ctx, key.K2())
		if err != nil {
			return true, err
		}
		out = append(out, c)
		return false, nil
	})
	return out, err
}

func (pl Play) revealBuild(a *app.App) simtypes.Operation {
	return func(r *rand.Rand, bapp *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&claimstypes.MsgRevealBuild{})
		cs, err := revealing(ctx, a)
		if err != nil {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "walk"), nil, err
		}
		type due struct {
			c claimstypes.Claim
			a claimstypes.Assignment
		}
		var dues []due
		for _, c := range cs {
			for round := uint32(1); round <= c.Rounds; round++ {
				if i := c.LatestAssignment(round); i >= 0 && c.Assignments[i].Status == claimstypes.ROUND_STATUS_COMMITTED {
					dues = append(dues, due{c, c.Assignments[i]})
				}
			}
		}
		if len(dues) == 0 {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "nothing to reveal"), nil, nil
		}
		d := dues[r.Intn(len(dues))]
		addr, err := sdk.AccAddressFromBech32(d.a.Validator)
		if err != nil {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "address"), nil, err
		}
		kind, isBuilder := pl.Pop.Kind(addr)
		acc, found := simtypes.FindAccount(accs, addr)
		if !isBuilder || !found {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "not a builder of the population"), nil, nil
		}
		out, ms := commitOf(kind, d.a.Validator, d.c.DerivationCid, pl.IsFake(d.c.DerivationCid))
		msg := &claimstypes.MsgRevealBuild{Validator: d.a.Validator, ClaimId: d.c.Id, Round: d.a.Round,
			OutputCid: out, BuildTimeMs: ms, Salt: roundSalt(d.a.Validator, d.c.Id, d.a.Round)}
		return deliver(r, bapp, a, ctx, acc, msg, claimstypes.ModuleName)
	}
}

func (pl Play) revealClaim(a *app.App) simtypes.Operation {
	return func(r *rand.Rand, bapp *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&claimstypes.MsgRevealClaim{})
		cs, err := revealing(ctx, a)
		if err != nil {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "walk"), nil, err
		}
		var unrevealed []claimstypes.Claim
		for _, c := range cs {
			if !c.Revealed() {
				unrevealed = append(unrevealed, c)
			}
		}
		if len(unrevealed) == 0 {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "no claim to reveal"), nil, nil
		}
		c := unrevealed[r.Intn(len(unrevealed))]
		acc, found := simtypes.FindAccount(accs, sdk.MustAccAddressFromBech32(c.Publisher))
		if !found {
			return simtypes.NoOpMsg(claimstypes.ModuleName, typ, "publisher is not a sim account"), nil, nil
		}
		msg := &claimstypes.MsgRevealClaim{Publisher: c.Publisher, ClaimId: c.Id, OutputCid: pl.claimed(c),
			Salt: salt("claim", c.Publisher, c.DerivationCid)}
		return deliver(r, bapp, a, ctx, acc, msg, claimstypes.ModuleName)
	}
}

// outcome is what a builder of kind k predicts in market m (node/sidecar's Decide): from its
// own output, the claim lied if it got the dissent's output, the dissent lied if it got the
// claimed one, else non-determinism. A colluder's "own output" of a fake is the fake.
func (pl Play) outcome(k Kind, m markettypes.Market) markettypes.Outcome {
	ours := TrueOutput(m.DerivationCid)
	if k == Colluding && pl.IsFake(m.DerivationCid) {
		ours = FakeOutput(m.DerivationCid)
	}
	switch ours {
	case m.ClaimedOutput:
		return markettypes.OUTCOME_MISBEHAVIOUR_REPORT
	case m.ReportedOutput:
		return markettypes.OUTCOME_MISBEHAVIOUR_CLAIM
	}
	return markettypes.OUTCOME_NON_DETERMINISM
}

func predictionSalt(market uint64, predictor string) []byte {
	return salt("prediction", strconv.FormatUint(market, 10), predictor)
}

// openMarkets are the open markets the predicate keeps.
func openMarkets(ctx sdk.Context, a *app.App, keep func(markettypes.Market) bool) ([]markettypes.Market, error) {
	var out []markettypes.Market
	err := a.MarketKeeper.OpenMarkets.Walk(ctx, nil, func(key collections.Pair[int64, uint64]) (bool, error) {
		m, err := a.MarketKeeper.Markets.Get(ctx, key.K2())
		if err != nil {
			return true, err
		}
		if keep(m) {
			out = append(out, m)
		}
		return false, nil
	})
	return out, err
}

func (pl Play) predict(a *app.App) simtypes.Operation {
	return func(r *rand.Rand, bapp *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&markettypes.MsgCommitPrediction{})
		ms, err := openMarkets(ctx, a, func(m markettypes.Market) bool { return ctx.BlockHeight() <= m.CommitEnd })
		if err != nil || len(ms) == 0 {
			return simtypes.NoOpMsg(markettypes.ModuleName, typ, "no market in its commit phase"), nil, err
		}
		m := ms[r.Intn(len(ms))]
		builders := pl.Pop.BuilderAddrs()
		addr := builders[r.Intn(len(builders))]
		kind, _ := pl.Pop.Kind(addr)
		acc, found := simtypes.FindAccount(accs, addr)
		if kind == Lazy || !found {
			return simtypes.NoOpMsg(markettypes.ModuleName, typ, "lazy builders do not predict"), nil, nil
		}
		if has, err := a.MarketKeeper.Predictions.Has(ctx, collections.Join(m.Id, addr)); err != nil || has {
			return simtypes.NoOpMsg(markettypes.ModuleName, typ, "already committed"), nil, err
		}
		hash, err := tally.CommitHash(tally.Outcome(pl.outcome(kind, m)), predictionSalt(m.Id, addr.String()), addr)
		if err != nil {
			return simtypes.NoOpMsg(markettypes.ModuleName, typ, "hash"), nil, err
		}
		msg := &markettypes.MsgCommitPrediction{Predictor: addr.String(), MarketId: m.Id, CommitHash: hash, Stake: pl.Stake}
		return deliver(r, bapp, a, ctx, acc, msg, markettypes.ModuleName)
	}
}

func (pl Play) revealPrediction(a *app.App) simtypes.Operation {
	return func(r *rand.Rand, bapp *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&markettypes.MsgRevealPrediction{})
		ms, err := openMarkets(ctx, a, func(m markettypes.Market) bool {
			return ctx.BlockHeight() > m.CommitEnd && ctx.BlockHeight() <= m.RevealEnd
		})
		if err != nil {
			return simtypes.NoOpMsg(markettypes.ModuleName, typ, "walk"), nil, err
		}
		type due struct {
			m    markettypes.Market
			addr sdk.AccAddress
		}
		var dues []due
		for _, m := range ms {
			preds, err := a.MarketKeeper.MarketPredictions(ctx, m.Id)
			if err != nil {
				return simtypes.NoOpMsg(markettypes.ModuleName, typ, "predictions"), nil, err
			}
			for _, p := range preds {
				if addr := sdk.MustAccAddressFromBech32(p.Predictor); !p.Revealed {
					if _, ok := pl.Pop.Kind(addr); ok {
						dues = append(dues, due{m, addr})
					}
				}
			}
		}
		if len(dues) == 0 {
			return simtypes.NoOpMsg(markettypes.ModuleName, typ, "nothing to reveal"), nil, nil
		}
		d := dues[r.Intn(len(dues))]
		kind, _ := pl.Pop.Kind(d.addr)
		acc, found := simtypes.FindAccount(accs, d.addr)
		if !found {
			return simtypes.NoOpMsg(markettypes.ModuleName, typ, "predictor is not a sim account"), nil, nil
		}
		msg := &markettypes.MsgRevealPrediction{Predictor: d.addr.String(), MarketId: d.m.Id, Outcome: pl.outcome(kind, d.m),
			Salt: predictionSalt(d.m.Id, d.addr.String())}
		return deliver(r, bapp, a, ctx, acc, msg, markettypes.ModuleName)
	}
}
