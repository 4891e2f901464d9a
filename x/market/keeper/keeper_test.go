package keeper_test

import (
	"bytes"
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/market/keeper"
	"github.com/buildchain/buildchain/x/market/tally"
	"github.com/buildchain/buildchain/x/market/testutil"
	"github.com/buildchain/buildchain/x/market/types"
)

const bct = 1_000_000

// scene is a disputed claim: publisher, two validators that agreed with the claim, one
// dissenter, and three predictors.
type scene struct {
	f                        *testutil.Fixture
	ms                       types.MsgServer
	pub, agree1, agree2, dis sdk.AccAddress
	p1, p2, p3               sdk.AccAddress
	marketID                 uint64
}

func newScene(t *testing.T) *scene {
	f := testutil.New(t)
	s := &scene{f: f, ms: keeper.NewMsgServerImpl(f.Market),
		pub: testutil.Addr("pub"), agree1: testutil.Addr("agree1"), agree2: testutil.Addr("agree2"), dis: testutil.Addr("dis"),
		p1: testutil.Addr("p1"), p2: testutil.Addr("p2"), p3: testutil.Addr("p3")}
	f.Fund(t, s.pub, 500*bct)
	f.Claims.LockDeposit(t, 7, s.pub, 100*bct)
	f.Claims.Claims[7] = claimstypes.Claim{Id: 7, Publisher: s.pub.String(), OutputCid: "bafyclaimed", Assignments: []claimstypes.Assignment{
		{Round: 1, Validator: s.agree1.String(), Status: claimstypes.ROUND_STATUS_AGREED, OutputCid: "bafyclaimed", BuildTimeMs: 1000},
		{Round: 2, Validator: s.agree2.String(), Status: claimstypes.ROUND_STATUS_AGREED, OutputCid: "bafyclaimed", BuildTimeMs: 1100},
		{Round: 3, Validator: s.dis.String(), Status: claimstypes.ROUND_STATUS_DISAGREED, OutputCid: "bafyreported", BuildTimeMs: 1234},
	}}
	for _, v := range []sdk.AccAddress{s.agree1, s.agree2, s.dis} {
		f.Fund(t, v, 1000*bct)
		f.Validators.Bond(t, v, 1000*bct)
	}
	for _, p := range []sdk.AccAddress{s.p1, s.p2, s.p3} {
		f.Fund(t, p, 200*bct)
	}
	// Start the bct period (the first EndBlocker does it) before the market opens.
	f.EndBlock(t)
	f.SetHeight(2)
	id, err := f.Market.OpenMarket(f.Ctx, types.OpenMarketRequest{
		ClaimID: 7, Round: 3, DerivationCID: "bafyderivation", ClaimedOutput: "bafyclaimed", ReportedOutput: "bafyreported",
		Publisher: s.pub, Dissenter: s.dis, Agreeing: []sdk.AccAddress{s.agree1, s.agree2},
	})
	require.NoError(t, err)
	require.Equal(t, uint64(1), id)
	s.marketID = id
	return s
}

func salt(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }

func (s *scene) commit(t *testing.T, who sdk.AccAddress, o types.Outcome, stake int64, sl []byte) error {
	h, err := tally.CommitHash(tally.Outcome(o), sl, who)
	require.NoError(t, err)
	_, err = s.ms.CommitPrediction(s.f.Ctx, &types.MsgCommitPrediction{
		Predictor: who.String(), MarketId: s.marketID, CommitHash: h, Stake: sdk.NewInt64Coin(appparams.BondDenom, stake)})
	return err
}

func (s *scene) reveal(who sdk.AccAddress, o types.Outcome, sl []byte) error {
	_, err := s.ms.RevealPrediction(s.f.Ctx, &types.MsgRevealPrediction{Predictor: who.String(), MarketId: s.marketID, Outcome: o, Salt: sl})
	return err
}

func (s *scene) market(t *testing.T) types.Market {
	m, err := s.f.Market.GetMarket(s.f.Ctx, s.marketID)
	require.NoError(t, err)
	return m
}

// toReveal moves past commit_end; toEnd to reveal_end and runs the EndBlockers.
func (s *scene) toReveal(t *testing.T) { s.f.SetHeight(s.market(t).CommitEnd + 1) }
func (s *scene) toEnd(t *testing.T) {
	s.f.SetHeight(s.market(t).RevealEnd)
	s.f.EndBlock(t)
}

func (s *scene) checkInvariants(t *testing.T) {
	t.Helper()
	msg, broken := keeper.LockedStakesInvariant(s.f.Market, s.f.AK)(s.f.Ctx)
	require.False(t, broken, msg)
}

func TestMisbehaviourClaimSlashesPublisherAndAgreeingValidators(t *testing.T) {
	s := newScene(t)
	f := s.f
	require.NoError(t, s.commit(t, s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, 60*bct, salt(1)))
	require.NoError(t, s.commit(t, s.p2, types.OUTCOME_MISBEHAVIOUR_CLAIM, 50*bct, salt(2)))
	require.NoError(t, s.commit(t, s.p3, types.OUTCOME_NON_DETERMINISM, 40*bct, salt(3)))
	require.Equal(t, sdkmath.NewInt(150*bct), f.ModuleBalance(types.ModuleName))
	s.checkInvariants(t)
	s.toReveal(t)
	require.NoError(t, s.reveal(s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(1)))
	require.NoError(t, s.reveal(s.p2, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(2)))
	require.NoError(t, s.reveal(s.p3, types.OUTCOME_NON_DETERMINISM, salt(3)))
	supplyBefore := f.Supply()
	devBefore := f.ModuleBalance(bcttypes.DevFundName)
	s.toEnd(t)

	m := s.market(t)
	require.Equal(t, types.MARKET_STATUS_RESOLVED, m.Status)
	require.Equal(t, types.OUTCOME_MISBEHAVIOUR_CLAIM, m.Outcome)
	require.True(t, m.Decided)
	// Slashes: deposit 100 BCT + 2 × 10 % of 1000 BCT = 300 BCT; dissenter gets 150, 150 burned.
	require.True(t, f.Claims.Deposits[7].IsZero())
	require.Equal(t, sdkmath.NewInt(900*bct), f.Validators.Bonds[s.agree1.String()])
	require.Equal(t, sdkmath.NewInt(900*bct), f.Validators.Bonds[s.agree2.String()])
	require.Equal(t, sdkmath.NewInt(1000*bct), f.Validators.Bonds[s.dis.String()])
	require.Equal(t, sdkmath.NewInt(150*bct), f.Balance(s.dis))
	require.Equal(t, sdkmath.NewInt(2800*bct), f.ModuleBalance(testutil.ValidatorsModule))
	// Market: p3's 40 BCT lost; fee 2 % = 0.8 BCT to the dev fund; 39.2 shared 60:50.
	require.Equal(t, sdkmath.NewInt(200*bct-60*bct+60*bct+21_381_818), f.Balance(s.p1))
	require.Equal(t, sdkmath.NewInt(200*bct-50*bct+50*bct+17_818_182), f.Balance(s.p2))
	require.Equal(t, sdkmath.NewInt(160*bct), f.Balance(s.p3))
	require.Equal(t, devBefore.Add(sdkmath.NewInt(800_000)), f.ModuleBalance(bcttypes.DevFundName))
	// Supply fell by exactly the burn; no module holds anything left over.
	require.Equal(t, supplyBefore.Sub(sdkmath.NewInt(150*bct)), f.Supply())
	require.True(t, f.ModuleBalance(types.ModuleName).IsZero())
	require.True(t, f.ModuleBalance(bcttypes.ModuleName).IsZero())
	require.Equal(t, []testutil.Verdict{{ClaimID: 7, Outcome: claimstypes.OutcomeMisbehaviourClaim}}, f.Claims.Verdicts)
	s.checkInvariants(t)
	// bct booked the slashes.
	st, err := f.Bct.ValidatorStats.Get(f.Ctx, s.agree1)
	require.NoError(t, err)
	require.Equal(t, sdkmath.NewInt(100*bct), st.TotalSlashed)
	p, err := f.Bct.Period.Get(f.Ctx)
	require.NoError(t, err)
	require.Equal(t, sdkmath.NewInt(150*bct), p.Burned)
	// The honest dissenter is credited its build time; the liars are not.
	ds, err := f.Bct.ValidatorStats.Get(f.Ctx, s.dis)
	require.NoError(t, err)
	require.Equal(t, sdkmath.LegacyNewDec(1234), ds.RewardableTime)
	require.True(t, st.RewardableTime.IsZero())
}

func TestOpenRequestFromClaim(t *testing.T) {
	s := newScene(t)
	c := s.f.Claims.Claims[7]
	c.DerivationCid = "bafyderivation"
	req, err := keeper.OpenRequestFromClaim(c)
	require.NoError(t, err)
	require.Equal(t, types.OpenMarketRequest{ClaimID: 7, Round: 3, DerivationCID: "bafyderivation", ClaimedOutput: "bafyclaimed",
		ReportedOutput: "bafyreported", Publisher: s.pub, Dissenter: s.dis, Agreeing: []sdk.AccAddress{s.agree1, s.agree2}}, req)
	// The hook opens it.
	require.NoError(t, s.f.Market.Hooks().AfterClaimDisputed(s.f.Ctx, c))
	m, err := s.f.Market.GetMarket(s.f.Ctx, 2)
	require.NoError(t, err)
	require.Equal(t, uint64(7), m.ClaimId)
	require.Equal(t, []string{s.agree1.String(), s.agree2.String()}, m.Agreeing)
	// A claim without a disputing report is refused.
	c.Assignments = c.Assignments[:2]
	_, err = keeper.OpenRequestFromClaim(c)
	require.ErrorIs(t, err, types.ErrInvalidMarket)
}
