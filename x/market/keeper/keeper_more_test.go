package keeper_test

import (
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	appparams "github.com/buildchain/buildchain/app/params"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/market/keeper"
	"github.com/buildchain/buildchain/x/market/tally"
	"github.com/buildchain/buildchain/x/market/testutil"
	"github.com/buildchain/buildchain/x/market/types"
)

// snapshot is every balance and the market, to show a refused message moved nothing.
type snapshot struct {
	balances map[string]sdkmath.Int
	market   types.Market
	preds    []types.Prediction
}

func (s *scene) snap(t *testing.T) snapshot {
	sn := snapshot{balances: map[string]sdkmath.Int{}, market: s.market(t)}
	for _, a := range []sdk.AccAddress{s.pub, s.agree1, s.agree2, s.dis, s.p1, s.p2, s.p3} {
		sn.balances[a.String()] = s.f.Balance(a)
	}
	for _, m := range []string{types.ModuleName, bcttypes.ModuleName, testutil.ClaimsModule, testutil.ValidatorsModule} {
		sn.balances[m] = s.f.ModuleBalance(m)
	}
	var err error
	sn.preds, err = s.f.Market.MarketPredictions(s.f.Ctx, s.marketID)
	require.NoError(t, err)
	return sn
}

func TestBadInputChangesNothing(t *testing.T) {
	s := newScene(t)
	require.NoError(t, s.commit(t, s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, 10*bct, salt(1)))
	require.NoError(t, s.commit(t, s.p3, types.OUTCOME_NON_DETERMINISM, 10*bct, salt(3)))
	before := s.snap(t)

	// Double commit.
	err := s.commit(t, s.p1, types.OUTCOME_NON_DETERMINISM, 10*bct, salt(9))
	require.ErrorIs(t, err, types.ErrAlreadyCommitted)
	// Stake above balance.
	err = s.commit(t, s.p2, types.OUTCOME_NON_DETERMINISM, 201*bct, salt(2))
	require.ErrorIs(t, err, types.ErrInsufficientFund)
	require.ErrorContains(t, err, "spendable")
	// Stake below min_stake (1 BCT).
	err = s.commit(t, s.p2, types.OUTCOME_NON_DETERMINISM, 999_999, salt(2))
	require.ErrorIs(t, err, types.ErrStakeTooLow)
	// Unknown market.
	h, _ := tally.CommitHash(tally.NonDeterminism, salt(2), s.p2)
	_, err = s.ms.CommitPrediction(s.f.Ctx, &types.MsgCommitPrediction{Predictor: s.p2.String(), MarketId: 99, CommitHash: h, Stake: sdk.NewInt64Coin(appparams.BondDenom, bct)})
	require.ErrorIs(t, err, types.ErrMarketNotFound)
	// Malformed: short hash, wrong denom, bad address.
	_, err = s.ms.CommitPrediction(s.f.Ctx, &types.MsgCommitPrediction{Predictor: s.p2.String(), MarketId: 1, CommitHash: h[:31], Stake: sdk.NewInt64Coin(appparams.BondDenom, bct)})
	require.ErrorIs(t, err, types.ErrInvalidCommit)
	_, err = s.ms.CommitPrediction(s.f.Ctx, &types.MsgCommitPrediction{Predictor: s.p2.String(), MarketId: 1, CommitHash: h, Stake: sdk.NewInt64Coin("uatom", bct)})
	require.ErrorContains(t, err, "ubct")
	_, err = s.ms.CommitPrediction(s.f.Ctx, &types.MsgCommitPrediction{Predictor: "bc1nope", MarketId: 1, CommitHash: h, Stake: sdk.NewInt64Coin(appparams.BondDenom, bct)})
	require.ErrorContains(t, err, "invalid predictor address")
	// Reveal during the commit phase.
	require.ErrorIs(t, s.reveal(s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(1)), types.ErrRevealNotOpen)
	require.Equal(t, before, s.snap(t))

	s.toReveal(t)
	// Late commit.
	require.ErrorIs(t, s.commit(t, s.p2, types.OUTCOME_NON_DETERMINISM, 10*bct, salt(2)), types.ErrCommitClosed)
	// A reveal that does not match its commit: other outcome, other salt, other sender.
	require.ErrorIs(t, s.reveal(s.p1, types.OUTCOME_NON_DETERMINISM, salt(1)), types.ErrCommitMismatch)
	require.ErrorIs(t, s.reveal(s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(7)), types.ErrCommitMismatch)
	require.ErrorIs(t, s.reveal(s.p2, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(1)), types.ErrNoCommit)
	// Malformed reveals.
	require.ErrorIs(t, s.reveal(s.p1, types.OUTCOME_UNSPECIFIED, salt(1)), types.ErrInvalidOutcome)
	require.ErrorIs(t, s.reveal(s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, []byte("short")), types.ErrInvalidCommit)
	require.Equal(t, before, s.snap(t))

	// The right reveal works once.
	require.NoError(t, s.reveal(s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(1)))
	require.ErrorIs(t, s.reveal(s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(1)), types.ErrAlreadyRevealed)

	// Late reveal (the EndBlocker of reveal_end has not run yet: the market is still open).
	before = s.snap(t)
	s.f.SetHeight(s.market(t).RevealEnd + 1)
	require.ErrorIs(t, s.reveal(s.p3, types.OUTCOME_NON_DETERMINISM, salt(3)), types.ErrRevealClosed)
	require.Equal(t, before, s.snap(t))
	// Evidence: bad CID, too long a note, closed market.
	_, err = s.ms.AddEvidence(s.f.Ctx, &types.MsgAddEvidence{Submitter: s.p1.String(), MarketId: 1, Cid: "notacid"})
	require.ErrorIs(t, err, types.ErrInvalidEvidence)
	_, err = s.ms.AddEvidence(s.f.Ctx, &types.MsgAddEvidence{Submitter: s.p1.String(), MarketId: 1, Cid: testCID, Note: string(make([]byte, 513))})
	require.ErrorIs(t, err, types.ErrInvalidEvidence)
	_, err = s.ms.AddEvidence(s.f.Ctx, &types.MsgAddEvidence{Submitter: s.p1.String(), MarketId: 1, Cid: testCID})
	require.ErrorIs(t, err, types.ErrMarketClosed)
	require.Equal(t, before, s.snap(t))
	s.checkInvariants(t)
}

const testCID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"

func TestEvidence(t *testing.T) {
	s := newScene(t)
	_, err := s.ms.AddEvidence(s.f.Ctx, &types.MsgAddEvidence{Submitter: s.p1.String(), MarketId: 1, Cid: testCID, Note: "diffoscope report"})
	require.NoError(t, err)
	m := s.market(t)
	require.Len(t, m.Evidence, 1)
	require.Equal(t, testCID, m.Evidence[0].Cid)
	require.Equal(t, "diffoscope report", m.Evidence[0].Note)
	for i := 1; i < keeper.MaxEvidence; i++ {
		_, err = s.ms.AddEvidence(s.f.Ctx, &types.MsgAddEvidence{Submitter: s.p1.String(), MarketId: 1, Cid: testCID})
		require.NoError(t, err)
	}
	_, err = s.ms.AddEvidence(s.f.Ctx, &types.MsgAddEvidence{Submitter: s.p1.String(), MarketId: 1, Cid: testCID})
	require.ErrorIs(t, err, types.ErrTooMuchEvidence)
}

func TestMisbehaviourReportSlashesDissenter(t *testing.T) {
	s := newScene(t)
	f := s.f
	require.NoError(t, s.commit(t, s.p1, types.OUTCOME_MISBEHAVIOUR_REPORT, 120*bct, salt(1)))
	require.NoError(t, s.commit(t, s.p2, types.OUTCOME_MISBEHAVIOUR_CLAIM, 30*bct, salt(2)))
	s.toReveal(t)
	require.NoError(t, s.reveal(s.p1, types.OUTCOME_MISBEHAVIOUR_REPORT, salt(1)))
	require.NoError(t, s.reveal(s.p2, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(2)))
	supply := f.Supply()
	s.toEnd(t)
	m := s.market(t)
	require.Equal(t, types.OUTCOME_MISBEHAVIOUR_REPORT, m.Outcome)
	// The dissenter loses 100 BCT; the two agreeing validators get 25 each; 50 burned.
	require.Equal(t, sdkmath.NewInt(900*bct), f.Validators.Bonds[s.dis.String()])
	require.Equal(t, sdkmath.NewInt(1000*bct), f.Validators.Bonds[s.agree1.String()])
	require.Equal(t, sdkmath.NewInt(25*bct), f.Balance(s.agree1))
	require.Equal(t, sdkmath.NewInt(25*bct), f.Balance(s.agree2))
	require.True(t, f.Balance(s.dis).IsZero())
	// The publisher keeps its deposit.
	require.Equal(t, sdkmath.NewInt(100*bct), f.Claims.Deposits[7])
	require.Equal(t, supply.Sub(sdkmath.NewInt(50*bct)), f.Supply())
	// p2's 30 BCT: 0.6 fee, 29.4 to p1.
	require.Equal(t, sdkmath.NewInt(200*bct+29_400_000), f.Balance(s.p1))
	require.Equal(t, sdkmath.NewInt(170*bct), f.Balance(s.p2))
	require.Equal(t, []testutil.Verdict{{ClaimID: 7, Outcome: claimstypes.OutcomeMisbehaviourReport}}, f.Claims.Verdicts)
	s.checkInvariants(t)
}

func TestMisbehaviourReportWithoutExposersBurnsAll(t *testing.T) {
	f := testutil.New(t)
	ms := keeper.NewMsgServerImpl(f.Market)
	pub, dis, p1 := testutil.Addr("pub"), testutil.Addr("dis"), testutil.Addr("p1")
	f.Fund(t, dis, 1000*bct)
	f.Validators.Bond(t, dis, 1000*bct)
	f.Fund(t, p1, 200*bct)
	f.EndBlock(t)
	id, err := f.Market.OpenMarket(f.Ctx, types.OpenMarketRequest{ClaimID: 1, Round: 1, ClaimedOutput: "a", ReportedOutput: "b", Publisher: pub, Dissenter: dis})
	require.NoError(t, err)
	h, _ := tally.CommitHash(tally.MisbehaviourReport, salt(1), p1)
	_, err = ms.CommitPrediction(f.Ctx, &types.MsgCommitPrediction{Predictor: p1.String(), MarketId: id, CommitHash: h, Stake: sdk.NewInt64Coin(appparams.BondDenom, 100*bct)})
	require.NoError(t, err)
	m, _ := f.Market.GetMarket(f.Ctx, id)
	f.SetHeight(m.CommitEnd + 1)
	_, err = ms.RevealPrediction(f.Ctx, &types.MsgRevealPrediction{Predictor: p1.String(), MarketId: id, Outcome: types.OUTCOME_MISBEHAVIOUR_REPORT, Salt: salt(1)})
	require.NoError(t, err)
	supply := f.Supply()
	f.SetHeight(m.RevealEnd)
	f.EndBlock(t)
	require.Equal(t, sdkmath.NewInt(900*bct), f.Validators.Bonds[dis.String()])
	require.Equal(t, supply.Sub(sdkmath.NewInt(100*bct)), f.Supply())
	require.Equal(t, sdkmath.NewInt(200*bct), f.Balance(p1))
}

func TestNonDeterminismSlashesNobody(t *testing.T) {
	s := newScene(t)
	f := s.f
	require.NoError(t, s.commit(t, s.p1, types.OUTCOME_NON_DETERMINISM, 110*bct, salt(1)))
	require.NoError(t, s.commit(t, s.p2, types.OUTCOME_MISBEHAVIOUR_CLAIM, 10*bct, salt(2)))
	s.toReveal(t)
	require.NoError(t, s.reveal(s.p1, types.OUTCOME_NON_DETERMINISM, salt(1)))
	require.NoError(t, s.reveal(s.p2, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(2)))
	supply := f.Supply()
	s.toEnd(t)
	require.Equal(t, types.OUTCOME_NON_DETERMINISM, s.market(t).Outcome)
	require.True(t, s.market(t).Decided)
	for _, v := range []sdk.AccAddress{s.agree1, s.agree2, s.dis} {
		require.Equal(t, sdkmath.NewInt(1000*bct), f.Validators.Bonds[v.String()])
	}
	require.Equal(t, sdkmath.NewInt(100*bct), f.Claims.Deposits[7])
	require.Equal(t, supply, f.Supply())
	require.Equal(t, []testutil.Verdict{{ClaimID: 7, Outcome: claimstypes.OutcomeNonDeterminism}}, f.Claims.Verdicts)
}

func TestNoQuorumIsUndecidedNonDeterminism(t *testing.T) {
	s := newScene(t)
	f := s.f
	// Quorum is 100 BCT of revealed stake: 60 + 30 revealed, 50 not.
	require.NoError(t, s.commit(t, s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, 60*bct, salt(1)))
	require.NoError(t, s.commit(t, s.p2, types.OUTCOME_MISBEHAVIOUR_CLAIM, 30*bct, salt(2)))
	require.NoError(t, s.commit(t, s.p3, types.OUTCOME_NON_DETERMINISM, 50*bct, salt(3)))
	s.toReveal(t)
	require.NoError(t, s.reveal(s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(1)))
	require.NoError(t, s.reveal(s.p2, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(2)))
	s.toEnd(t)
	m := s.market(t)
	require.Equal(t, types.OUTCOME_NON_DETERMINISM, m.Outcome)
	require.False(t, m.Decided)
	require.Equal(t, "no_quorum", m.Reason)
	// Nobody slashed; p3 (did not reveal) lost 50: 1 fee, 49 shared 60:30.
	require.Equal(t, sdkmath.NewInt(100*bct), f.Claims.Deposits[7])
	require.Equal(t, sdkmath.NewInt(1000*bct), f.Validators.Bonds[s.agree1.String()])
	require.Equal(t, sdkmath.NewInt(200*bct+32_666_667), f.Balance(s.p1))
	require.Equal(t, sdkmath.NewInt(200*bct+16_333_333), f.Balance(s.p2))
	require.Equal(t, sdkmath.NewInt(150*bct), f.Balance(s.p3))
	require.Equal(t, []testutil.Verdict{{ClaimID: 7, Outcome: claimstypes.OutcomeInconclusive}}, f.Claims.Verdicts)
	s.checkInvariants(t)
}

func TestTieIsUndecided(t *testing.T) {
	s := newScene(t)
	require.NoError(t, s.commit(t, s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, 60*bct, salt(1)))
	require.NoError(t, s.commit(t, s.p2, types.OUTCOME_MISBEHAVIOUR_REPORT, 60*bct, salt(2)))
	s.toReveal(t)
	require.NoError(t, s.reveal(s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, salt(1)))
	require.NoError(t, s.reveal(s.p2, types.OUTCOME_MISBEHAVIOUR_REPORT, salt(2)))
	s.toEnd(t)
	m := s.market(t)
	require.Equal(t, types.OUTCOME_NON_DETERMINISM, m.Outcome)
	require.False(t, m.Decided)
	require.Equal(t, "tie", m.Reason)
	require.Equal(t, sdkmath.NewInt(200*bct), s.f.Balance(s.p1))
	require.Equal(t, sdkmath.NewInt(200*bct), s.f.Balance(s.p2))
	require.Equal(t, sdkmath.NewInt(1000*bct), s.f.Validators.Bonds[s.dis.String()])
}

func TestFailedResolutionIsRetried(t *testing.T) {
	s := newScene(t)
	f := s.f
	require.NoError(t, s.commit(t, s.p1, types.OUTCOME_NON_DETERMINISM, 10*bct, salt(1)))
	s.toReveal(t)
	require.NoError(t, s.reveal(s.p1, types.OUTCOME_NON_DETERMINISM, salt(1)))
	f.Claims.Fail = true
	s.toEnd(t)
	// Nothing was applied: still open, stake still locked.
	require.Equal(t, types.MARKET_STATUS_OPEN, s.market(t).Status)
	require.Equal(t, sdkmath.NewInt(10*bct), f.ModuleBalance(types.ModuleName))
	require.Equal(t, sdkmath.NewInt(190*bct), f.Balance(s.p1))
	s.checkInvariants(t)
	// Next block it resolves.
	f.Claims.Fail = false
	f.SetHeight(s.market(t).RevealEnd + 1)
	f.EndBlock(t)
	require.Equal(t, types.MARKET_STATUS_RESOLVED, s.market(t).Status)
	require.Equal(t, sdkmath.NewInt(200*bct), f.Balance(s.p1))
}

func TestOpenMarketValidation(t *testing.T) {
	f := testutil.New(t)
	a, b := testutil.Addr("a"), testutil.Addr("b")
	for _, req := range []types.OpenMarketRequest{
		{ClaimID: 0, ClaimedOutput: "x", ReportedOutput: "y", Publisher: a, Dissenter: b},
		{ClaimID: 1, ClaimedOutput: "x", ReportedOutput: "x", Publisher: a, Dissenter: b},
		{ClaimID: 1, ClaimedOutput: "x", ReportedOutput: "y", Publisher: a},
		{ClaimID: 1, ClaimedOutput: "x", ReportedOutput: "y", Publisher: a, Dissenter: b, Agreeing: []sdk.AccAddress{b}},
	} {
		_, err := f.Market.OpenMarket(f.Ctx, req)
		require.ErrorIs(t, err, types.ErrInvalidMarket)
	}
}

func TestQueriesAndGenesis(t *testing.T) {
	s := newScene(t)
	f := s.f
	q := keeper.NewQueryServerImpl(f.Market)
	require.NoError(t, s.commit(t, s.p1, types.OUTCOME_MISBEHAVIOUR_CLAIM, 10*bct, salt(1)))
	require.NoError(t, s.commit(t, s.p2, types.OUTCOME_NON_DETERMINISM, 5*bct, salt(2)))
	// A second market on another claim.
	id2, err := f.Market.OpenMarket(f.Ctx, types.OpenMarketRequest{ClaimID: 8, Round: 1, ClaimedOutput: "a", ReportedOutput: "b", Publisher: s.pub, Dissenter: s.agree1})
	require.NoError(t, err)
	require.Equal(t, uint64(2), id2)

	mr, err := q.Market(f.Ctx, &types.QueryMarketRequest{Id: 1})
	require.NoError(t, err)
	require.Equal(t, sdkmath.NewInt(15*bct), mr.Market.TotalStake)
	_, err = q.Market(f.Ctx, &types.QueryMarketRequest{Id: 9})
	require.Error(t, err)
	bc, err := q.MarketsByClaim(f.Ctx, &types.QueryMarketsByClaimRequest{ClaimId: 7})
	require.NoError(t, err)
	require.Len(t, bc.Markets, 1)
	open, err := q.OpenMarkets(f.Ctx, &types.QueryOpenMarketsRequest{})
	require.NoError(t, err)
	require.Len(t, open.Markets, 2)
	ps, err := q.Predictions(f.Ctx, &types.QueryPredictionsRequest{MarketId: 1, Pagination: &query.PageRequest{Limit: 1, CountTotal: true}})
	require.NoError(t, err)
	require.Len(t, ps.Predictions, 1)
	require.Equal(t, uint64(2), ps.Pagination.Total)
	pa, err := q.PredictionsByAccount(f.Ctx, &types.QueryPredictionsByAccountRequest{Address: s.p1.String()})
	require.NoError(t, err)
	require.Len(t, pa.Predictions, 1)
	require.Equal(t, s.p1.String(), pa.Predictions[0].Predictor)
	_, err = q.PredictionsByAccount(f.Ctx, &types.QueryPredictionsByAccountRequest{Address: "nope"})
	require.Error(t, err)

	// Export, import into a fresh stack, export again: identical.
	gs, err := f.Market.ExportGenesis(f.Ctx)
	require.NoError(t, err)
	require.NoError(t, gs.Validate())
	require.Len(t, gs.Markets, 2)
	require.Len(t, gs.Predictions, 2)
	require.Equal(t, uint64(3), gs.NextMarketId)
	f2 := testutil.New(t)
	require.NoError(t, f2.Market.InitGenesis(f2.Ctx, gs))
	gs2, err := f2.Market.ExportGenesis(f2.Ctx)
	require.NoError(t, err)
	require.Equal(t, gs, gs2)
	// A third market in the imported state continues the ids.
	id3, err := f2.Market.OpenMarket(f2.Ctx, types.OpenMarketRequest{ClaimID: 9, ClaimedOutput: "a", ReportedOutput: "b", Publisher: s.pub, Dissenter: s.agree1})
	require.NoError(t, err)
	require.Equal(t, uint64(3), id3)
	// Invalid genesis: open market whose stake does not match its predictions.
	bad := *gs
	bad.Markets = append([]types.Market(nil), gs.Markets...)
	bad.Markets[0].TotalStake = sdkmath.NewInt(1)
	require.ErrorIs(t, bad.Validate(), types.ErrInvalidGenesis)
}
