package simulation

import (
	"context"
	"math/rand"

	"cosmossdk.io/collections"
	sdkmath "cosmossdk.io/math"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/client"
	sdk "github.com/cosmos/cosmos-sdk/types"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"
	"github.com/cosmos/cosmos-sdk/x/simulation"

	"github.com/buildchain/buildchain/x/market/keeper"
	"github.com/buildchain/buildchain/x/market/tally"
	"github.com/buildchain/buildchain/x/market/types"
)

// Simulation operation weights.
const (
	OpWeightMsgCommitPrediction = "op_weight_msg_commit_prediction"
	OpWeightMsgRevealPrediction = "op_weight_msg_reveal_prediction"
	OpWeightMsgAddEvidence      = "op_weight_msg_add_evidence"

	DefaultWeightMsgCommitPrediction = 80
	DefaultWeightMsgRevealPrediction = 80
	DefaultWeightMsgAddEvidence      = 10
)

// AccountKeeper is what the simulation needs of x/auth.
type AccountKeeper interface {
	GetAccount(ctx context.Context, addr sdk.AccAddress) sdk.AccountI
}

// BankKeeper is what the simulation needs of x/bank.
type BankKeeper interface {
	SpendableCoins(ctx context.Context, addr sdk.AccAddress) sdk.Coins
}

// secret is a commit the simulation made and may reveal.
type secret struct {
	market  uint64
	addr    sdk.AccAddress
	outcome types.Outcome
	salt    []byte
}

// WeightedOperations returns the random Msgs of the module. Commits are remembered (like the
// CLI's salt file) so that reveals can open them; some are never revealed.
func WeightedOperations(appParams simtypes.AppParams, txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simulation.WeightedOperations {
	weight := func(key string, def int) int {
		var w int
		appParams.GetOrGenerate(key, &w, nil, func(_ *rand.Rand) { w = def })
		return w
	}
	secrets := map[string]secret{}
	return simulation.WeightedOperations{
		simulation.NewWeightedOperation(weight(OpWeightMsgCommitPrediction, DefaultWeightMsgCommitPrediction), SimulateMsgCommitPrediction(txConfig, k, ak, bk, secrets)),
		simulation.NewWeightedOperation(weight(OpWeightMsgRevealPrediction, DefaultWeightMsgRevealPrediction), SimulateMsgRevealPrediction(txConfig, k, ak, bk, secrets)),
		simulation.NewWeightedOperation(weight(OpWeightMsgAddEvidence, DefaultWeightMsgAddEvidence), SimulateMsgAddEvidence(txConfig, k, ak, bk)),
	}
}

// openMarkets returns the open markets, by reveal_end.
func openMarkets(ctx sdk.Context, k keeper.Keeper) ([]types.Market, error) {
	var out []types.Market
	err := k.OpenMarkets.Walk(ctx, nil, func(key collections.Pair[int64, uint64]) (bool, error) {
		m, err := k.Markets.Get(ctx, key.K2())
		if err != nil {
			return true, err
		}
		out = append(out, m)
		return len(out) >= 64, nil
	})
	return out, err
}

// SimulateMsgCommitPrediction commits a random outcome with a random stake to a market in
// its commit phase. Outcomes lean on MISBEHAVIOUR_CLAIM and NON_DETERMINISM so that every
// verdict, and ties and missed quorums, happen.
func SimulateMsgCommitPrediction(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper, secrets map[string]secret) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgCommitPrediction{})
		ms, err := openMarkets(ctx, k)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "walk"), nil, err
		}
		var committing []types.Market
		for _, m := range ms {
			if ctx.BlockHeight() <= m.CommitEnd {
				committing = append(committing, m)
			}
		}
		if len(committing) == 0 {
			return simtypes.NoOpMsg(types.ModuleName, typ, "no market in its commit phase"), nil, nil
		}
		m := committing[r.Intn(len(committing))]
		acc, _ := simtypes.RandomAcc(r, accs)
		if has, err := k.Predictions.Has(ctx, collections.Join(m.Id, acc.Address)); err != nil || has {
			return simtypes.NoOpMsg(types.ModuleName, typ, "already committed"), nil, err
		}
		params, err := k.Params.Get(ctx)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "params"), nil, err
		}
		stake := sdk.NewCoin(params.MinStake.Denom, params.MinStake.Amount.Add(sdkmath.NewInt(r.Int63n(80_000_000))))
		if spendable := bk.SpendableCoins(ctx, acc.Address); spendable.AmountOf(stake.Denom).LT(stake.Amount.MulRaw(2)) {
			return simtypes.NoOpMsg(types.ModuleName, typ, "insufficient funds"), nil, nil
		}
		outcome := []types.Outcome{types.OUTCOME_NON_DETERMINISM, types.OUTCOME_NON_DETERMINISM, types.OUTCOME_MISBEHAVIOUR_CLAIM,
			types.OUTCOME_MISBEHAVIOUR_CLAIM, types.OUTCOME_MISBEHAVIOUR_REPORT}[r.Intn(5)]
		salt := make([]byte, tally.MinSaltLen+r.Intn(tally.MaxSaltLen-tally.MinSaltLen+1))
		r.Read(salt)
		hash, err := tally.CommitHash(tally.Outcome(outcome), salt, acc.Address)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "hash"), nil, err
		}
		msg := &types.MsgCommitPrediction{Predictor: acc.Address.String(), MarketId: m.Id, CommitHash: hash, Stake: stake}
		op, fops, err := simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
			R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
			AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName, CoinsSpentInMsg: sdk.NewCoins(stake),
		})
		if err == nil && op.OK {
			secrets[string(acc.Address)+"/"+m.Describe()] = secret{market: m.Id, addr: acc.Address, outcome: outcome, salt: salt}
		}
		return op, fops, err
	}
}

// SimulateMsgRevealPrediction reveals a remembered commit of a market in its reveal phase.
func SimulateMsgRevealPrediction(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper, secrets map[string]secret) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgRevealPrediction{})
		// Deterministic order: walk the open markets, then their predictions.
		ms, err := openMarkets(ctx, k)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "walk"), nil, err
		}
		var due []secret
		for _, m := range ms {
			if ctx.BlockHeight() <= m.CommitEnd || ctx.BlockHeight() > m.RevealEnd {
				continue
			}
			preds, err := k.MarketPredictions(ctx, m.Id)
			if err != nil {
				return simtypes.NoOpMsg(types.ModuleName, typ, "predictions"), nil, err
			}
			for _, p := range preds {
				addr := sdk.MustAccAddressFromBech32(p.Predictor)
				s, ok := secrets[string(addr)+"/"+m.Describe()]
				if ok && !p.Revealed {
					due = append(due, s)
				}
			}
		}
		if len(due) == 0 {
			return simtypes.NoOpMsg(types.ModuleName, typ, "nothing to reveal"), nil, nil
		}
		s := due[r.Intn(len(due))]
		acc, found := simtypes.FindAccount(accs, s.addr)
		if !found {
			return simtypes.NoOpMsg(types.ModuleName, typ, "predictor is not a sim account"), nil, nil
		}
		msg := &types.MsgRevealPrediction{Predictor: acc.Address.String(), MarketId: s.market, Outcome: s.outcome, Salt: s.salt}
		return simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
			R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
			AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName,
		})
	}
}

// SimulateMsgAddEvidence attaches a random CID to an open market.
func SimulateMsgAddEvidence(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgAddEvidence{})
		ms, err := openMarkets(ctx, k)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "walk"), nil, err
		}
		var open []types.Market
		for _, m := range ms {
			if ctx.BlockHeight() <= m.RevealEnd && len(m.Evidence) < keeper.MaxEvidence {
				open = append(open, m)
			}
		}
		if len(open) == 0 {
			return simtypes.NoOpMsg(types.ModuleName, typ, "no open market"), nil, nil
		}
		m := open[r.Intn(len(open))]
		acc, _ := simtypes.RandomAcc(r, accs)
		buf := make([]byte, 16)
		r.Read(buf)
		sum, err := mh.Sum(buf, mh.SHA2_256, -1)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "hash"), nil, err
		}
		msg := &types.MsgAddEvidence{Submitter: acc.Address.String(), MarketId: m.Id, Cid: cid.NewCidV1(cid.Raw, sum).String(), Note: "diff report"}
		return simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
			R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
			AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName,
		})
	}
}
