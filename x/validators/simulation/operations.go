package simulation

import (
	"context"
	"math/rand"

	sdkmath "cosmossdk.io/math"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/client"
	sdk "github.com/cosmos/cosmos-sdk/types"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"
	"github.com/cosmos/cosmos-sdk/x/simulation"

	"github.com/buildchain/buildchain/x/validators/keeper"
	"github.com/buildchain/buildchain/x/validators/types"
)

// Simulation operation weights.
const (
	OpWeightMsgRegisterValidator = "op_weight_msg_register_validator"
	OpWeightMsgUpdateValidator   = "op_weight_msg_update_validator"
	OpWeightMsgUnbondValidator   = "op_weight_msg_unbond_validator"
	OpWeightMsgUnjail            = "op_weight_msg_unjail"

	DefaultWeightMsgRegisterValidator = 60
	DefaultWeightMsgUpdateValidator   = 20
	DefaultWeightMsgUnbondValidator   = 5
	DefaultWeightMsgUnjail            = 20
)

// Systems used by simulations (claims use the same list).
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
		simulation.NewWeightedOperation(weight(OpWeightMsgRegisterValidator, DefaultWeightMsgRegisterValidator), SimulateMsgRegisterValidator(txConfig, k, ak, bk)),
		simulation.NewWeightedOperation(weight(OpWeightMsgUpdateValidator, DefaultWeightMsgUpdateValidator), SimulateMsgUpdateValidator(txConfig, k, ak, bk)),
		simulation.NewWeightedOperation(weight(OpWeightMsgUnbondValidator, DefaultWeightMsgUnbondValidator), SimulateMsgUnbondValidator(txConfig, k, ak, bk)),
		simulation.NewWeightedOperation(weight(OpWeightMsgUnjail, DefaultWeightMsgUnjail), SimulateMsgUnjail(txConfig, k, ak, bk)),
	}
}

func deliver(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, txConfig client.TxConfig, ak AccountKeeper, bk BankKeeper,
	acc simtypes.Account, msg sdk.Msg, spent sdk.Coins,
) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
	return simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
		R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
		AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName, CoinsSpentInMsg: spent,
	})
}

func randomSystems(r *rand.Rand) []string {
	switch r.Intn(3) {
	case 0:
		return []string{Systems[0]}
	case 1:
		return []string{Systems[1]}
	default:
		return append([]string(nil), Systems...)
	}
}

// randomValidator picks a random registered validator that is one of the sim accounts.
func randomValidator(r *rand.Rand, ctx sdk.Context, k keeper.Keeper, accs []simtypes.Account, ok func(types.Validator) bool) (simtypes.Account, types.Validator, bool) {
	start := r.Intn(len(accs))
	for i := 0; i < len(accs); i++ {
		acc := accs[(start+i)%len(accs)]
		v, err := k.Validators.Get(ctx, acc.Address)
		if err == nil && ok(v) {
			return acc, v, true
		}
	}
	return simtypes.Account{}, types.Validator{}, false
}

// SimulateMsgRegisterValidator registers a random account with a bond of 1-2× min_bond.
func SimulateMsgRegisterValidator(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgRegisterValidator{})
		acc, _ := simtypes.RandomAcc(r, accs)
		if has, _ := k.Validators.Has(ctx, acc.Address); has {
			return simtypes.NoOpMsg(types.ModuleName, typ, "already registered"), nil, nil
		}
		params, err := k.Params.Get(ctx)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "params"), nil, err
		}
		bond := params.MinBond.AddAmount(sdkmath.NewInt(r.Int63n(params.MinBond.Amount.Int64() + 1)))
		spendable := bk.SpendableCoins(ctx, acc.Address)
		// Keep some coins for fees and claims.
		if spendable.AmountOf(bond.Denom).LT(bond.Amount.MulRaw(2)) {
			return simtypes.NoOpMsg(types.ModuleName, typ, "insufficient funds"), nil, nil
		}
		msg := &types.MsgRegisterValidator{Operator: acc.Address.String(), Systems: randomSystems(r), Bond: bond}
		return deliver(r, app, ctx, txConfig, ak, bk, acc, msg, sdk.NewCoins(bond))
	}
}

// SimulateMsgUpdateValidator changes systems and/or adds a little bond.
func SimulateMsgUpdateValidator(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgUpdateValidator{})
		acc, v, ok := randomValidator(r, ctx, k, accs, func(v types.Validator) bool { return v.Status != types.VALIDATOR_STATUS_UNBONDING })
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, typ, "no validator"), nil, nil
		}
		msg := &types.MsgUpdateValidator{Operator: v.Operator, Systems: randomSystems(r), AddBond: sdk.NewCoin(v.Bond.Denom, sdkmath.ZeroInt())}
		spent := sdk.NewCoins()
		spendable := bk.SpendableCoins(ctx, acc.Address).AmountOf(v.Bond.Denom)
		if add := v.Bond.Amount.QuoRaw(10); add.IsPositive() && spendable.GT(add.MulRaw(2)) && r.Intn(2) == 0 {
			msg.AddBond = sdk.NewCoin(v.Bond.Denom, add)
			spent = sdk.NewCoins(msg.AddBond)
		}
		return deliver(r, app, ctx, txConfig, ak, bk, acc, msg, spent)
	}
}

// SimulateMsgUnbondValidator starts unbonding a random validator.
func SimulateMsgUnbondValidator(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgUnbondValidator{})
		acc, v, ok := randomValidator(r, ctx, k, accs, func(v types.Validator) bool { return v.Status != types.VALIDATOR_STATUS_UNBONDING })
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, typ, "no validator"), nil, nil
		}
		return deliver(r, app, ctx, txConfig, ak, bk, acc, &types.MsgUnbondValidator{Operator: v.Operator}, nil)
	}
}

// SimulateMsgUnjail unjails a jailed validator whose jail time is over and whose bond is enough.
func SimulateMsgUnjail(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgUnjail{})
		params, err := k.Params.Get(ctx)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "params"), nil, err
		}
		acc, v, ok := randomValidator(r, ctx, k, accs, func(v types.Validator) bool {
			return v.Status == types.VALIDATOR_STATUS_JAILED && ctx.BlockHeight() >= v.JailedUntil && !v.Bond.IsLT(params.MinBond)
		})
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, typ, "no unjailable validator"), nil, nil
		}
		return deliver(r, app, ctx, txConfig, ak, bk, acc, &types.MsgUnjail{Operator: v.Operator}, nil)
	}
}
