package keeper_test

import (
	"context"
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/bct/economics"
	"github.com/buildchain/buildchain/x/bct/keeper"
	"github.com/buildchain/buildchain/x/bct/types"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/market/testutil"
)

const bct = 1_000_000

func dec(s string) sdkmath.LegacyDec { return sdkmath.LegacyMustNewDecFromStr(s) }

func checkInvariants(t *testing.T, f *testutil.Fixture) {
	t.Helper()
	for _, inv := range []sdk.Invariant{keeper.SupplyInvariant(f.Bct), keeper.ModuleAccountInvariant(f.Bct), keeper.RewardableSumInvariant(f.Bct)} {
		msg, broken := inv(f.Ctx)
		require.False(t, broken, msg)
	}
}

func rewardable(t *testing.T, f *testutil.Fixture, a sdk.AccAddress) sdkmath.LegacyDec {
	s, err := f.Bct.ValidatorStats.Get(f.Ctx, a)
	require.NoError(t, err)
	return s.RewardableTime
}

// runTo runs EndBlockers for every height up to and including h.
func runTo(t *testing.T, f *testutil.Fixture, h int64) {
	for f.Ctx.BlockHeight() < h {
		f.SetHeight(f.Ctx.BlockHeight() + 1)
		f.EndBlock(t)
	}
}

func TestPeriodMintsAndPaysByRewardableTime(t *testing.T) {
	f := testutil.New(t)
	holder, a, b := testutil.Addr("holder"), testutil.Addr("a"), testutil.Addr("b")
	f.Fund(t, holder, 1_000_000_000*bct) // supply 10^15 ubct
	f.EndBlock(t)                        // height 1: period 1 starts
	p, err := f.Bct.Period.Get(f.Ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), p.Number)
	require.Equal(t, int64(1), p.StartHeight)

	// a builds two claims, b one (with a).
	require.NoError(t, f.Bct.RecordValidation(f.Ctx, 1, []types.BuildReport{{Validator: a, BuildTimeMs: 3000}}))
	require.NoError(t, f.Bct.RecordValidation(f.Ctx, 2, []types.BuildReport{{Validator: a, BuildTimeMs: 1000}, {Validator: b, BuildTimeMs: 1000}}))
	require.Equal(t, dec("4000"), rewardable(t, f, a))
	require.Equal(t, dec("1000"), rewardable(t, f, b))
	checkInvariants(t, f)

	supply := f.Supply()
	runTo(t, f, 99)
	require.Equal(t, supply, f.Supply(), "nothing minted before the period's last block")
	runTo(t, f, 100)
	// mint = floor(10^15 × 0.07 × 100 / 6311520) = 1109083073; dev 5 % = 55454153;
	// validators 1053628920 split 4:1 = 842903136, 210725784.
	require.Equal(t, supply.Add(sdkmath.NewInt(1109083073)), f.Supply())
	require.Equal(t, sdkmath.NewInt(55454153), f.ModuleBalance(types.DevFundName))
	require.Equal(t, sdkmath.NewInt(842903136), f.Balance(a))
	require.Equal(t, sdkmath.NewInt(210725784), f.Balance(b))
	require.True(t, f.ModuleBalance(types.ModuleName).IsZero())
	require.True(t, rewardable(t, f, a).IsZero())
	rec, err := f.Bct.PeriodRecords.Get(f.Ctx, 1)
	require.NoError(t, err)
	require.Equal(t, sdkmath.NewInt(1109083073), rec.Minted)
	require.Equal(t, rec.StartSupply.Add(rec.Minted).Sub(rec.Burned), rec.EndSupply)
	require.Equal(t, uint32(2), rec.PaidValidators)
	p, err = f.Bct.Period.Get(f.Ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), p.Number)
	require.Equal(t, int64(101), p.StartHeight)
	checkInvariants(t, f)
}

func TestSlowReporterEarnsNoMoreAndOutliersAreClipped(t *testing.T) {
	f := testutil.New(t)
	fast, slow, c := testutil.Addr("fast"), testutil.Addr("slow"), testutil.Addr("c")
	f.EndBlock(t)
	// Same build, fast reports 1000 ms, slow reports 1900 ms: both earn u_a.
	require.NoError(t, f.Bct.RecordValidation(f.Ctx, 1, []types.BuildReport{{Validator: fast, BuildTimeMs: 1000}, {Validator: slow, BuildTimeMs: 1900}}))
	require.Equal(t, rewardable(t, f, fast), rewardable(t, f, slow))
	require.Equal(t, dec("1450"), rewardable(t, f, fast))
	ef, err := f.Bct.Efficiency(f.Ctx, fast)
	require.NoError(t, err)
	es, err := f.Bct.Efficiency(f.Ctx, slow)
	require.NoError(t, err)
	require.True(t, es.GT(sdkmath.LegacyOneDec()) && ef.LT(sdkmath.LegacyOneDec()), "fast %s slow %s", ef, es)

	// An absurd report is clipped to 4 × median: u_a = (1000 + 1000 + 4000) / 3 = 2000.
	require.NoError(t, f.Bct.RecordValidation(f.Ctx, 2, []types.BuildReport{
		{Validator: c, BuildTimeMs: 1000}, {Validator: testutil.Addr("d"), BuildTimeMs: 1000}, {Validator: testutil.Addr("e"), BuildTimeMs: 1 << 50}}))
	require.Equal(t, dec("2000"), rewardable(t, f, c))

	// Once its factor is learnt, a slow reporter's lone report earns average time.
	for i := uint64(3); i < 60; i++ {
		require.NoError(t, f.Bct.RecordValidation(f.Ctx, i, []types.BuildReport{{Validator: fast, BuildTimeMs: 1000}, {Validator: slow, BuildTimeMs: 3000}}))
	}
	before := rewardable(t, f, slow)
	require.NoError(t, f.Bct.RecordValidation(f.Ctx, 99, []types.BuildReport{{Validator: slow, BuildTimeMs: 3000}}))
	gain := rewardable(t, f, slow).Sub(before)
	before = rewardable(t, f, fast)
	require.NoError(t, f.Bct.RecordValidation(f.Ctx, 100, []types.BuildReport{{Validator: fast, BuildTimeMs: 1000}}))
	gainFast := rewardable(t, f, fast).Sub(before)
	require.True(t, gain.Quo(gainFast).Sub(sdkmath.LegacyOneDec()).Abs().LT(dec("0.01")), "slow lone report earns %s, fast %s", gain, gainFast)
	checkInvariants(t, f)
}

func TestRecordValidationRejectsBadReports(t *testing.T) {
	f := testutil.New(t)
	f.EndBlock(t)
	a := testutil.Addr("a")
	require.ErrorIs(t, f.Bct.RecordValidation(f.Ctx, 1, nil), types.ErrInvalidReports)
	require.ErrorIs(t, f.Bct.RecordValidation(f.Ctx, 1, []types.BuildReport{{Validator: a, BuildTimeMs: 1}, {Validator: a, BuildTimeMs: 2}}), types.ErrInvalidReports)
	require.ErrorIs(t, f.Bct.RecordValidation(f.Ctx, 1, []types.BuildReport{{BuildTimeMs: 1}}), types.ErrInvalidReports)
	has, err := f.Bct.ValidatorStats.Has(f.Ctx, a)
	require.NoError(t, err)
	require.False(t, has)
}

func TestEmptyPeriodCarriesValidatorShare(t *testing.T) {
	f := testutil.New(t)
	holder, a := testutil.Addr("holder"), testutil.Addr("a")
	f.Fund(t, holder, 1_000_000_000*bct)
	f.EndBlock(t)
	supply := f.Supply()
	runTo(t, f, 100) // nobody built in period 1
	mint1 := sdkmath.NewInt(1109083073)
	require.Equal(t, supply.Add(mint1), f.Supply(), "the fixed inflation is minted anyway")
	dev1, val1, err := economics.SplitDevFund(mint1, dec("0.05"))
	require.NoError(t, err)
	require.Equal(t, dev1, f.ModuleBalance(types.DevFundName))
	require.Equal(t, val1, f.ModuleBalance(types.ModuleName), "the validators' share waits in the module account")
	rec, err := f.Bct.PeriodRecords.Get(f.Ctx, 1)
	require.NoError(t, err)
	require.Equal(t, val1, rec.Carried)
	checkInvariants(t, f)

	// Period 2: a builds once and gets both periods' validator shares.
	require.NoError(t, f.Bct.RecordValidation(f.Ctx, 1, []types.BuildReport{{Validator: a, BuildTimeMs: 500}}))
	supply2 := f.Supply()
	runTo(t, f, 200)
	mint2, err := economics.MintAmount(supply2, dec("0.07"), 100, 6311520)
	require.NoError(t, err)
	_, val2, err := economics.SplitDevFund(mint2, dec("0.05"))
	require.NoError(t, err)
	require.Equal(t, val1.Add(val2), f.Balance(a))
	require.True(t, f.ModuleBalance(types.ModuleName).IsZero())
	checkInvariants(t, f)
}

func TestDevFundAddressParam(t *testing.T) {
	f := testutil.New(t)
	holder, dev := testutil.Addr("holder"), testutil.Addr("dev")
	f.Fund(t, holder, 1_000_000_000*bct)
	params := types.DefaultParams()
	params.DevFundAddress = dev.String()
	params.PaymentPeriodBlocks = 10
	require.NoError(t, f.Bct.Params.Set(f.Ctx, params))
	f.EndBlock(t)
	runTo(t, f, 10)
	require.True(t, f.Balance(dev).IsPositive())
	require.True(t, f.ModuleBalance(types.DevFundName).IsZero())
}

func TestBurnAndDistributeSlash(t *testing.T) {
	f := testutil.New(t)
	e1, e2, off := testutil.Addr("e1"), testutil.Addr("e2"), testutil.Addr("off")
	f.Fund(t, off, 1001)
	f.EndBlock(t)
	require.NoError(t, f.BK.SendCoinsFromAccountToModule(f.Ctx, off, types.ModuleName, testutil.Coins(1001)))
	supply := f.Supply()
	split, err := f.Bct.DistributeSlash(f.Ctx, 5, types.ModuleName, sdkmath.NewInt(1001), []sdk.AccAddress{e1, e2})
	require.NoError(t, err)
	require.Equal(t, sdkmath.NewInt(250), f.Balance(e1))
	require.Equal(t, sdkmath.NewInt(250), f.Balance(e2))
	require.Equal(t, sdkmath.NewInt(501), split.Burned)
	require.Equal(t, supply.Sub(sdkmath.NewInt(501)), f.Supply())
	p, err := f.Bct.Period.Get(f.Ctx)
	require.NoError(t, err)
	require.Equal(t, sdkmath.NewInt(501), p.Burned)
	tot, err := f.Bct.Totals.Get(f.Ctx)
	require.NoError(t, err)
	require.Equal(t, sdkmath.NewInt(501), tot.Burned)
	require.ErrorIs(t, f.Bct.Burn(f.Ctx, types.ModuleName, sdkmath.NewInt(-1)), types.ErrInvalidAmount)
	checkInvariants(t, f)
}

func TestSupplyInvariantCatchesUnscheduledMint(t *testing.T) {
	f := testutil.New(t)
	f.EndBlock(t)
	checkInvariants(t, f)
	f.Fund(t, testutil.Addr("x"), 1) // minted outside x/bct's schedule
	_, broken := keeper.SupplyInvariant(f.Bct)(f.Ctx)
	require.True(t, broken)
}

func TestQueriesAndGenesis(t *testing.T) {
	f := testutil.New(t)
	q := keeper.NewQueryServerImpl(f.Bct)
	holder, a := testutil.Addr("holder"), testutil.Addr("a")
	f.Fund(t, holder, 1_000_000_000*bct)
	f.EndBlock(t)
	require.NoError(t, f.Bct.RecordValidation(f.Ctx, 1, []types.BuildReport{{Validator: a, BuildTimeMs: 700}}))

	cp, err := q.CurrentPeriod(f.Ctx, &types.QueryCurrentPeriodRequest{})
	require.NoError(t, err)
	require.Equal(t, int64(100), cp.EndHeight)
	require.Equal(t, dec("700"), cp.Period.TotalRewardable)
	vs, err := q.ValidatorStats(f.Ctx, &types.QueryValidatorStatsRequest{Address: a.String()})
	require.NoError(t, err)
	require.Equal(t, dec("700"), vs.Stats.RewardableTime)
	require.Equal(t, uint64(1), vs.Stats.Validations)
	vs, err = q.ValidatorStats(f.Ctx, &types.QueryValidatorStatsRequest{Address: testutil.Addr("new").String()})
	require.NoError(t, err)
	require.Equal(t, sdkmath.LegacyOneDec(), vs.Stats.Efficiency)
	_, err = q.ValidatorStats(f.Ctx, &types.QueryValidatorStatsRequest{Address: "bad"})
	require.Error(t, err)
	inf, err := q.Inflation(f.Ctx, &types.QueryInflationRequest{})
	require.NoError(t, err)
	require.Equal(t, sdkmath.NewInt(1109083073), inf.PeriodMint)
	require.Equal(t, sdkmath.NewInt(70_000_000*bct), inf.AnnualProvisions)
	runTo(t, f, 100)
	sup, err := q.Supply(f.Ctx, &types.QuerySupplyRequest{})
	require.NoError(t, err)
	require.Equal(t, f.Supply(), sup.Supply)
	require.Equal(t, sdkmath.NewInt(1109083073), sup.Totals.Minted)
	require.Equal(t, sdkmath.NewInt(55454153), sup.DevFundBalance)
	recs, err := q.PeriodRecords(f.Ctx, &types.QueryPeriodRecordsRequest{})
	require.NoError(t, err)
	require.Len(t, recs.Records, 1)

	gs, err := f.Bct.ExportGenesis(f.Ctx)
	require.NoError(t, err)
	require.NoError(t, gs.Validate())
	f2 := testutil.New(t)
	require.NoError(t, f2.Bct.InitGenesis(f2.Ctx, gs))
	gs2, err := f2.Bct.ExportGenesis(f2.Ctx)
	require.NoError(t, err)
	require.Equal(t, gs, gs2)

	bad := *gs
	bad.Period.TotalRewardable = dec("5")
	require.ErrorIs(t, bad.Validate(), types.ErrInvalidGenesis)
}

type effRecorder map[string]sdkmath.LegacyDec

func (e effRecorder) SetEfficiency(_ context.Context, a sdk.AccAddress, eff sdkmath.LegacyDec) error {
	e[a.String()] = eff
	return nil
}

func TestClaimValidatedHook(t *testing.T) {
	f := testutil.New(t)
	f.EndBlock(t)
	rec := effRecorder{}
	f.Bct.SetValidatorsKeeper(rec)
	a, b, c, d := testutil.Addr("a"), testutil.Addr("b"), testutil.Addr("c"), testutil.Addr("d")
	claim := claimstypes.Claim{Id: 3, Assignments: []claimstypes.Assignment{
		{Validator: a.String(), Status: claimstypes.ROUND_STATUS_AGREED, BuildTimeMs: 1000},
		{Validator: b.String(), Status: claimstypes.ROUND_STATUS_TIMED_OUT},
		{Validator: c.String(), Status: claimstypes.ROUND_STATUS_NON_DETERMINISM, BuildTimeMs: 1200},
		{Validator: d.String(), Status: claimstypes.ROUND_STATUS_REJECTED, BuildTimeMs: 99999},
	}}
	require.NoError(t, f.Bct.Hooks().AfterClaimValidated(f.Ctx, claim))
	require.Equal(t, dec("1100"), rewardable(t, f, a))
	require.Equal(t, dec("1100"), rewardable(t, f, c))
	for _, x := range []sdk.AccAddress{b, d} {
		has, err := f.Bct.ValidatorStats.Has(f.Ctx, x)
		require.NoError(t, err)
		require.False(t, has, "timed-out and rejected rounds earn nothing")
	}
	// The efficiency factors were pushed to x/validators.
	require.Len(t, rec, 2)
	eff, err := f.Bct.Efficiency(f.Ctx, c)
	require.NoError(t, err)
	require.Equal(t, eff, rec[c.String()])
	require.NoError(t, f.Bct.Hooks().AfterClaimDisputed(f.Ctx, claim))
}
