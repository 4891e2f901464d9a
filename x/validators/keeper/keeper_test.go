package keeper_test

import (
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/buildchain/buildchain/crypto/vrf"
	vt "github.com/buildchain/buildchain/x/validators/testutil"
	"github.com/buildchain/buildchain/x/validators/types"
)

const denom = "ubct"

func ubct(n int64) sdk.Coin { return sdk.NewInt64Coin(denom, n) }

var minBond = types.DefaultMinBond.Amount.Int64()

func register(t *testing.T, f *vt.Fixture, i int, bond int64, systems ...string) sdk.AccAddress {
	t.Helper()
	addr := vt.Addr(i)
	f.Bank.Fund(addr, sdk.NewCoins(ubct(bond*2)))
	_, err := f.ValMsgs.RegisterValidator(f.Ctx, &types.MsgRegisterValidator{Operator: addr.String(), Systems: systems, Bond: ubct(bond)})
	require.NoError(t, err)
	return addr
}

// expectNoChange runs fn, requires the error and that neither the store nor balances changed.
func expectNoChange(t *testing.T, f *vt.Fixture, wantErr error, fn func() error) {
	t.Helper()
	before, err := f.Validators.ExportGenesis(f.Ctx)
	require.NoError(t, err)
	bal := f.Bank.Snapshot()
	cctx, _ := f.Ctx.CacheContext() // a failed Msg's writes are discarded like in DeliverTx...
	orig := f.Ctx
	f.Ctx = cctx
	err = fn()
	f.Ctx = orig
	require.ErrorIs(t, err, wantErr)
	after, err2 := f.Validators.ExportGenesis(f.Ctx)
	require.NoError(t, err2)
	require.Equal(t, before, after)
	require.Equal(t, bal, f.Bank.Snapshot(), "balances moved")
}

func TestRegisterValidator(t *testing.T) {
	f := vt.NewFixture(t)
	addr := register(t, f, 1, minBond, "x86_64-linux", "aarch64-linux", "x86_64-linux")
	v, err := f.Validators.GetValidator(f.Ctx, addr)
	require.NoError(t, err)
	require.Equal(t, []string{"aarch64-linux", "x86_64-linux"}, v.Systems, "sorted, unique")
	require.Equal(t, types.VALIDATOR_STATUS_ACTIVE, v.Status)
	require.Equal(t, ubct(minBond), v.Bond)
	require.Equal(t, ubct(minBond), f.Bank.GetBalance(f.Ctx, f.Validators.ModuleAddress(), denom))
	require.Equal(t, ubct(minBond), f.Bank.GetBalance(f.Ctx, addr, denom))
	require.Len(t, f.Ctx.EventManager().Events(), 1)
	require.Equal(t, "buildchain.validators.v1.EventValidatorRegistered", f.Ctx.EventManager().Events()[0].Type)

	res, err := f.ValQuery.ValidatorsBySystem(f.Ctx, &types.QueryValidatorsBySystemRequest{System: "aarch64-linux"})
	require.NoError(t, err)
	require.Len(t, res.Validators, 1)
	res2, err := f.ValQuery.ValidatorsBySystem(f.Ctx, &types.QueryValidatorsBySystemRequest{System: "riscv64-linux"})
	require.NoError(t, err)
	require.Empty(t, res2.Validators)
	f.CheckInvariants(t)
}

func TestRegisterValidatorErrors(t *testing.T) {
	f := vt.NewFixture(t)
	register(t, f, 1, minBond, "x86_64-linux")
	poor := vt.Addr(2)
	f.Bank.Fund(poor, sdk.NewCoins(ubct(minBond-1)))
	cases := []struct {
		name string
		msg  types.MsgRegisterValidator
		err  error
	}{
		{"duplicate", types.MsgRegisterValidator{Operator: vt.Addr(1).String(), Systems: []string{"x86_64-linux"}, Bond: ubct(minBond)}, types.ErrValidatorExists},
		{"below min", types.MsgRegisterValidator{Operator: vt.Addr(3).String(), Systems: []string{"x86_64-linux"}, Bond: ubct(minBond - 1)}, types.ErrInsufficientBond},
		{"wrong denom", types.MsgRegisterValidator{Operator: vt.Addr(3).String(), Systems: []string{"x86_64-linux"}, Bond: sdk.NewInt64Coin("stake", minBond)}, types.ErrWrongDenom},
		{"no systems", types.MsgRegisterValidator{Operator: vt.Addr(3).String(), Bond: ubct(minBond)}, types.ErrInvalidSystem},
		{"bad system", types.MsgRegisterValidator{Operator: vt.Addr(3).String(), Systems: []string{"Linux!"}, Bond: ubct(minBond)}, types.ErrInvalidSystem},
		{"zero bond", types.MsgRegisterValidator{Operator: vt.Addr(3).String(), Systems: []string{"x86_64-linux"}, Bond: ubct(0)}, types.ErrInvalidAmount},
		{"bad address", types.MsgRegisterValidator{Operator: "bc1nope", Systems: []string{"x86_64-linux"}, Bond: ubct(minBond)}, nil},
		{"insufficient funds", types.MsgRegisterValidator{Operator: poor.String(), Systems: []string{"x86_64-linux"}, Bond: ubct(minBond)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.msg
			want := tc.err
			before, _ := f.Validators.ExportGenesis(f.Ctx)
			bal := f.Bank.Snapshot()
			_, err := f.ValMsgs.RegisterValidator(f.Ctx, &msg)
			require.Error(t, err)
			if want != nil {
				require.ErrorIs(t, err, want)
			}
			after, _ := f.Validators.ExportGenesis(f.Ctx)
			require.Equal(t, before, after)
			require.Equal(t, bal, f.Bank.Snapshot())
		})
	}
}

func TestUpdateValidator(t *testing.T) {
	f := vt.NewFixture(t)
	addr := register(t, f, 1, minBond, "x86_64-linux")
	_, err := f.ValMsgs.UpdateValidator(f.Ctx, &types.MsgUpdateValidator{Operator: addr.String(), Systems: []string{"aarch64-linux"}, AddBond: ubct(500)})
	require.NoError(t, err)
	v, _ := f.Validators.GetValidator(f.Ctx, addr)
	require.Equal(t, []string{"aarch64-linux"}, v.Systems)
	require.Equal(t, ubct(minBond+500), v.Bond)
	c, err := f.Validators.Candidates(f.Ctx, "x86_64-linux")
	require.NoError(t, err)
	require.Empty(t, c, "old system index removed")
	c, err = f.Validators.Candidates(f.Ctx, "aarch64-linux")
	require.NoError(t, err)
	require.Len(t, c, 1)
	require.Equal(t, sdkmath.NewInt(minBond+500), c[0].Weight)

	_, err = f.ValMsgs.UpdateValidator(f.Ctx, &types.MsgUpdateValidator{Operator: addr.String()})
	require.Error(t, err, "nothing to update")
	_, err = f.ValMsgs.UpdateValidator(f.Ctx, &types.MsgUpdateValidator{Operator: vt.Addr(9).String(), Systems: []string{"aarch64-linux"}})
	require.ErrorIs(t, err, types.ErrValidatorNotFound)
	expectNoChange(t, f, types.ErrWrongDenom, func() error {
		_, err := f.ValMsgs.UpdateValidator(f.Ctx, &types.MsgUpdateValidator{Operator: addr.String(), AddBond: sdk.NewInt64Coin("stake", 1)})
		return err
	})
	f.CheckInvariants(t)
}

func TestUnbondLifecycle(t *testing.T) {
	f := vt.NewFixture(t)
	addr := register(t, f, 1, minBond, "x86_64-linux")
	res, err := f.ValMsgs.UnbondValidator(f.Ctx, &types.MsgUnbondValidator{Operator: addr.String()})
	require.NoError(t, err)
	require.Equal(t, int64(1+types.DefaultUnbondingBlocks), res.UnbondingHeight)
	c, _ := f.Validators.Candidates(f.Ctx, "x86_64-linux")
	require.Empty(t, c, "unbonding validators get no assignments")

	expectNoChange(t, f, types.ErrWrongStatus, func() error {
		_, err := f.ValMsgs.UnbondValidator(f.Ctx, &types.MsgUnbondValidator{Operator: addr.String()})
		return err
	})
	expectNoChange(t, f, types.ErrWrongStatus, func() error {
		_, err := f.ValMsgs.UpdateValidator(f.Ctx, &types.MsgUpdateValidator{Operator: addr.String(), AddBond: ubct(1)})
		return err
	})
	// Still bonded one block before the end, returned at the end.
	f.Ctx = f.Ctx.WithBlockHeight(res.UnbondingHeight - 1)
	require.NoError(t, f.Validators.EndBlocker(f.Ctx))
	_, err = f.Validators.GetValidator(f.Ctx, addr)
	require.NoError(t, err)
	f.Ctx = f.Ctx.WithBlockHeight(res.UnbondingHeight)
	require.NoError(t, f.Validators.EndBlocker(f.Ctx))
	_, err = f.Validators.GetValidator(f.Ctx, addr)
	require.ErrorIs(t, err, types.ErrValidatorNotFound)
	require.Equal(t, ubct(2*minBond), f.Bank.GetBalance(f.Ctx, addr, denom))
	f.CheckInvariants(t)
}

func TestMissedDeadlinesJailAndUnjail(t *testing.T) {
	f := vt.NewFixture(t)
	addr := register(t, f, 1, minBond*2, "x86_64-linux")
	frac := sdkmath.LegacyNewDecWithPrec(1, 2)
	for i := uint64(1); i < types.DefaultMaxMissedAssignments; i++ {
		jailed, err := f.Validators.HandleMissedDeadline(f.Ctx, addr, frac)
		require.NoError(t, err)
		require.False(t, jailed)
	}
	jailed, err := f.Validators.HandleMissedDeadline(f.Ctx, addr, frac)
	require.NoError(t, err)
	require.True(t, jailed)
	v, _ := f.Validators.GetValidator(f.Ctx, addr)
	require.Equal(t, types.VALIDATOR_STATUS_JAILED, v.Status)
	require.Equal(t, types.DefaultMaxMissedAssignments, v.TotalMissed)
	// 1% of the bond burned each time, truncated.
	expect := sdkmath.NewInt(minBond * 2)
	for i := uint64(0); i < types.DefaultMaxMissedAssignments; i++ {
		expect = expect.Sub(sdkmath.LegacyNewDecFromInt(expect).Mul(frac).TruncateInt())
	}
	require.Equal(t, expect, v.Bond.Amount)
	require.Equal(t, sdkmath.NewInt(minBond*2).Sub(expect), f.Bank.Burned().AmountOf(denom))
	c, _ := f.Validators.Candidates(f.Ctx, "x86_64-linux")
	require.Empty(t, c, "jailed validators get no assignments")

	expectNoChange(t, f, types.ErrStillJailed, func() error {
		_, err := f.ValMsgs.Unjail(f.Ctx, &types.MsgUnjail{Operator: addr.String()})
		return err
	})
	f.Ctx = f.Ctx.WithBlockHeight(v.JailedUntil)
	_, err = f.ValMsgs.Unjail(f.Ctx, &types.MsgUnjail{Operator: addr.String()})
	require.NoError(t, err)
	v, _ = f.Validators.GetValidator(f.Ctx, addr)
	require.Equal(t, types.VALIDATOR_STATUS_ACTIVE, v.Status)
	require.Zero(t, v.MissedAssignments)
	expectNoChange(t, f, types.ErrWrongStatus, func() error {
		_, err := f.ValMsgs.Unjail(f.Ctx, &types.MsgUnjail{Operator: addr.String()})
		return err
	})
	f.CheckInvariants(t)
}

func TestUnjailNeedsMinBond(t *testing.T) {
	f := vt.NewFixture(t)
	addr := register(t, f, 1, minBond, "x86_64-linux")
	for i := uint64(0); i < types.DefaultMaxMissedAssignments; i++ {
		_, err := f.Validators.HandleMissedDeadline(f.Ctx, addr, sdkmath.LegacyNewDecWithPrec(1, 2))
		require.NoError(t, err)
	}
	v, _ := f.Validators.GetValidator(f.Ctx, addr)
	f.Ctx = f.Ctx.WithBlockHeight(v.JailedUntil)
	expectNoChange(t, f, types.ErrInsufficientBond, func() error {
		_, err := f.ValMsgs.Unjail(f.Ctx, &types.MsgUnjail{Operator: addr.String()})
		return err
	})
	_, err := f.ValMsgs.UpdateValidator(f.Ctx, &types.MsgUpdateValidator{Operator: addr.String(), AddBond: ubct(minBond)})
	require.NoError(t, err, "a jailed validator may top up its bond")
	_, err = f.ValMsgs.Unjail(f.Ctx, &types.MsgUnjail{Operator: addr.String()})
	require.NoError(t, err)
}

func TestSlashBondToModule(t *testing.T) {
	f := vt.NewFixture(t)
	addr := register(t, f, 1, 1_000_000_001, "x86_64-linux")
	amt, err := f.Validators.SlashBond(f.Ctx, addr, sdkmath.LegacyNewDecWithPrec(1, 1), "market", "lied")
	require.NoError(t, err)
	require.Equal(t, ubct(100_000_000), amt, "10% truncated")
	require.Equal(t, ubct(100_000_000), f.Bank.GetBalance(f.Ctx, sdk.AccAddress(authAddr("market")), denom))
	_, err = f.Validators.SlashBond(f.Ctx, addr, sdkmath.LegacyNewDec(2), "", "x")
	require.ErrorIs(t, err, types.ErrInvalidAmount)
	require.NoError(t, f.Validators.SetEfficiency(f.Ctx, addr, sdkmath.LegacyNewDec(2)))
	require.Error(t, f.Validators.SetEfficiency(f.Ctx, addr, sdkmath.LegacyNewDec(-1)))
	require.NoError(t, f.Validators.SetEfficiency(f.Ctx, vt.Addr(99), sdkmath.LegacyNewDec(2)), "a validator that left is skipped")
	_, err = f.Validators.GetValidator(f.Ctx, vt.Addr(99))
	require.ErrorIs(t, err, types.ErrValidatorNotFound, "and not created")
	f.CheckInvariants(t)
}

func TestWeightByEfficiency(t *testing.T) {
	f := vt.NewFixture(t)
	addr := register(t, f, 1, minBond, "x86_64-linux")
	require.NoError(t, f.Validators.SetEfficiency(f.Ctx, addr, sdkmath.LegacyNewDec(2)))
	c, _ := f.Validators.Candidates(f.Ctx, "x86_64-linux")
	require.Equal(t, sdkmath.NewInt(minBond), c[0].Weight, "off by default")
	p, _ := f.Validators.Params.Get(f.Ctx)
	p.WeightByEfficiency = true
	_, err := f.ValMsgs.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: f.Authority.String(), Params: p})
	require.NoError(t, err)
	c, _ = f.Validators.Candidates(f.Ctx, "x86_64-linux")
	require.Equal(t, sdkmath.NewInt(minBond/2), c[0].Weight)
	_, err = f.ValMsgs.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: addr.String(), Params: p})
	require.ErrorIs(t, err, types.ErrInvalidAuthority)
}

func TestQueriesAndPagination(t *testing.T) {
	f := vt.NewFixture(t)
	for i := 1; i <= 5; i++ {
		register(t, f, i, minBond, "x86_64-linux")
	}
	res, err := f.ValQuery.Validators(f.Ctx, &types.QueryValidatorsRequest{Pagination: &query.PageRequest{Limit: 2, CountTotal: true}})
	require.NoError(t, err)
	require.Len(t, res.Validators, 2)
	require.Equal(t, uint64(5), res.Pagination.Total)
	res, err = f.ValQuery.Validators(f.Ctx, &types.QueryValidatorsRequest{Pagination: &query.PageRequest{Key: res.Pagination.NextKey, Limit: 10}})
	require.NoError(t, err)
	require.Len(t, res.Validators, 3)
	one, err := f.ValQuery.Validator(f.Ctx, &types.QueryValidatorRequest{Operator: vt.Addr(3).String()})
	require.NoError(t, err)
	require.Equal(t, vt.Addr(3).String(), one.Validator.Operator)
	_, err = f.ValQuery.Validator(f.Ctx, &types.QueryValidatorRequest{Operator: vt.Addr(9).String()})
	require.ErrorContains(t, err, "not found")
	_, err = f.ValQuery.Validator(f.Ctx, &types.QueryValidatorRequest{Operator: "nope"})
	require.ErrorContains(t, err, "invalid operator")
	_, err = f.ValQuery.ValidatorsBySystem(f.Ctx, &types.QueryValidatorsBySystemRequest{System: "../"})
	require.Error(t, err)
	r, err := f.ValQuery.Randomness(f.Ctx, &types.QueryRandomnessRequest{})
	require.NoError(t, err)
	require.Len(t, r.Randomness.Value, vrf.OutputSize, "genesis randomness from the chain id")
	_, err = f.ValQuery.Randomness(f.Ctx, &types.QueryRandomnessRequest{Height: 77})
	require.ErrorContains(t, err, "no randomness")
}

func TestGenesisRoundTrip(t *testing.T) {
	f := vt.NewFixture(t)
	register(t, f, 1, minBond, "x86_64-linux")
	a2 := register(t, f, 2, minBond, "aarch64-linux")
	_, err := f.ValMsgs.UnbondValidator(f.Ctx, &types.MsgUnbondValidator{Operator: a2.String()})
	require.NoError(t, err)
	op := vt.Addr(50)
	f.Staking.AddAuthority(t, op)
	k, _ := vrf.GenerateKey(nil)
	_, err = f.ValMsgs.RegisterVrfKey(f.Ctx, &types.MsgRegisterVrfKey{Operator: op.String(), PublicKey: k.Public()})
	require.NoError(t, err)
	gs, err := f.Validators.ExportGenesis(f.Ctx)
	require.NoError(t, err)
	require.NoError(t, gs.Validate())

	g := vt.NewFixture(t)
	require.NoError(t, g.Validators.InitGenesis(g.Ctx, gs))
	gs2, err := g.Validators.ExportGenesis(g.Ctx)
	require.NoError(t, err)
	require.Equal(t, gs, gs2)
	// The unbonding queue was rebuilt: the bond comes back at the right height.
	g.Bank.Fund(g.Validators.ModuleAddress(), sdk.NewCoins(ubct(2*minBond)))
	g.Ctx = g.Ctx.WithBlockHeight(1 + int64(types.DefaultUnbondingBlocks))
	require.NoError(t, g.Validators.EndBlocker(g.Ctx))
	require.Equal(t, ubct(minBond), g.Bank.GetBalance(g.Ctx, a2, denom))

	bad := *gs
	bad.Validators = append(bad.Validators, bad.Validators[0])
	require.ErrorIs(t, bad.Validate(), types.ErrInvalidGenesis)
	bad = *gs
	bad.LastRandomness = []byte{1, 2, 3}
	require.ErrorIs(t, bad.Validate(), types.ErrInvalidGenesis)
}
