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

	"github.com/buildchain/buildchain/x/claims/keeper"
	"github.com/buildchain/buildchain/x/claims/types"
)

// Simulation operation weights.
const (
	OpWeightMsgSubmitClaim = "op_weight_msg_submit_claim"
	OpWeightMsgReportBuild = "op_weight_msg_report_build"

	DefaultWeightMsgSubmitClaim = 60
	DefaultWeightMsgReportBuild = 100
)

// Systems used by simulations (the same list as x/validators' simulation).
var Systems = []string{"x86_64-linux", "aarch64-linux"}

// AccountKeeper is what the simulation needs of x/auth.
type AccountKeeper interface {
	GetAccount(ctx context.Context, addr sdk.AccAddress) sdk.AccountI
}

// BankKeeper is what the simulation needs of x/bank.
type BankKeeper interface {
	SpendableCoins(ctx context.Context, addr sdk.AccAddress) sdk.Coins
}

// WeightedOperations returns the random Msgs of the module.
func WeightedOperations(appParams simtypes.AppParams, txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simulation.WeightedOperations {
	weight := func(key string, def int) int {
		var w int
		appParams.GetOrGenerate(key, &w, nil, func(_ *rand.Rand) { w = def })
		return w
	}
	return simulation.WeightedOperations{
		simulation.NewWeightedOperation(weight(OpWeightMsgSubmitClaim, DefaultWeightMsgSubmitClaim), SimulateMsgSubmitClaim(txConfig, k, ak, bk)),
		simulation.NewWeightedOperation(weight(OpWeightMsgReportBuild, DefaultWeightMsgReportBuild), SimulateMsgReportBuild(txConfig, k, ak, bk)),
	}
}

// RandomCID returns a CIDv1 sha2-256 of random bytes with the given codec.
func RandomCID(r *rand.Rand, codec uint64) string {
	buf := make([]byte, 16)
	r.Read(buf)
	sum, err := mh.Sum(buf, mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(codec, sum).String()
}

// SimulateMsgSubmitClaim submits a claim about a random derivation; half of them reuse a
// small pool of derivations so that several claims share one.
func SimulateMsgSubmitClaim(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	pool := rand.New(rand.NewSource(1))
	derivations := make([]string, 8)
	outputs := make([]string, 8)
	for i := range derivations {
		derivations[i] = RandomCID(pool, cid.DagJSON)
		outputs[i] = RandomCID(pool, cid.DagProtobuf)
	}
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgSubmitClaim{})
		params, err := k.Params.Get(ctx)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "params"), nil, err
		}
		acc, _ := simtypes.RandomAcc(r, accs)
		deposit := params.MinDeposit.AddAmount(sdkmath.NewInt(r.Int63n(params.MinDeposit.Amount.Int64() + 1)))
		need := sdk.NewCoins(deposit).Add(params.ClaimFee)
		spendable := bk.SpendableCoins(ctx, acc.Address)
		// Leave room for the tx fee.
		if !spendable.IsAllGTE(need.Add(need...)) {
			return simtypes.NoOpMsg(types.ModuleName, typ, "insufficient funds"), nil, nil
		}
		drv, out := RandomCID(r, cid.DagJSON), RandomCID(r, cid.DagProtobuf)
		if r.Intn(2) == 0 {
			i := r.Intn(len(derivations))
			drv, out = derivations[i], outputs[i]
		}
		msg := &types.MsgSubmitClaim{
			Publisher: acc.Address.String(), DerivationCid: drv, OutputCid: out,
			System: Systems[r.Intn(len(Systems))], Deposit: deposit,
		}
		return simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
			R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
			AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName, CoinsSpentInMsg: need,
		})
	}
}

// SimulateMsgReportBuild makes an assigned validator report: mostly the claimed output, some
// times a different one (→ DISPUTED); some assignments are never reported (→ timeouts).
func SimulateMsgReportBuild(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgReportBuild{})
		var open []collections.Pair[sdk.AccAddress, uint64]
		if err := k.OpenAssignments.Walk(ctx, nil, func(key collections.Pair[sdk.AccAddress, uint64]) (bool, error) {
			open = append(open, key)
			return len(open) >= 64, nil
		}); err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "walk"), nil, err
		}
		if len(open) == 0 {
			return simtypes.NoOpMsg(types.ModuleName, typ, "no open assignment"), nil, nil
		}
		key := open[r.Intn(len(open))]
		acc, found := simtypes.FindAccount(accs, key.K1())
		if !found {
			return simtypes.NoOpMsg(types.ModuleName, typ, "validator is not a sim account"), nil, nil
		}
		c, err := k.GetClaim(ctx, key.K2())
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "claim"), nil, err
		}
		out := c.OutputCid
		if r.Intn(10) == 0 {
			out = RandomCID(r, cid.DagProtobuf)
		}
		msg := &types.MsgReportBuild{
			Validator: acc.Address.String(), ClaimId: c.Id, Round: c.Round, OutputCid: out,
			BuildTimeMs: uint64(1 + r.Intn(600_000)),
		}
		return simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
			R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
			AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName,
		})
	}
}
