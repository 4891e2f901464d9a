package keeper_test

import (
	"crypto/sha256"
	"fmt"
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/market/keeper"
	"github.com/buildchain/buildchain/x/market/tally"
	"github.com/buildchain/buildchain/x/market/testutil"
	"github.com/buildchain/buildchain/x/market/types"
	validatorskeeper "github.com/buildchain/buildchain/x/validators/keeper"
	validatorstypes "github.com/buildchain/buildchain/x/validators/types"
)

// game drives the real x/validators, x/claims, x/market and x/bct keepers through a claim.
type game struct {
	f         *testutil.Full
	pub       sdk.AccAddress
	vals      []sdk.AccAddress
	preds     []sdk.AccAddress
	claimID   uint64
	drv       string
	trueOut   string
	claimed   string
	height    int
	claimMsgs claimstypes.MsgServer
	mktMsgs   types.MsgServer
	// committed: the builds committed since the last reveals (revealed by reveal).
	committed []build
}

// build is a committed round's result, kept to reveal it.
type build struct {
	validator sdk.AccAddress
	round     uint32
	output    string
	ms        uint64
}

var (
	pubSalt   = []byte("publisher salt 0123456789")
	buildSalt = []byte("builder salt 0123456789")
)

const bond = 1000 * bct

func newGame(t *testing.T, publisherLies bool) *game {
	f := testutil.NewFull(t)
	g := &game{f: f, pub: testutil.Addr("publisher"), claimMsgs: claimskeeper.NewMsgServerImpl(f.Claims), mktMsgs: keeper.NewMsgServerImpl(f.Market)}
	g.drv = testutil.CID(t, cid.DagJSON, `{"name":"hello"}`)
	g.trueOut = testutil.CID(t, cid.DagProtobuf, "the real output")
	g.claimed = g.trueOut
	if publisherLies {
		g.claimed = testutil.CID(t, cid.DagProtobuf, "malware")
	}
	f.Fund(t, g.pub, 1000*bct)
	for i := 0; i < 4; i++ {
		v := testutil.Addr(fmt.Sprintf("validator%d", i))
		f.Fund(t, v, bond)
		g.vals = append(g.vals, v)
	}
	for i := 0; i < 2; i++ {
		p := testutil.Addr(fmt.Sprintf("predictor%d", i))
		f.Fund(t, p, 500*bct)
		g.preds = append(g.preds, p)
	}
	// Two agreeing rounds are needed; no coin flips, so the test is deterministic.
	cp, err := f.Claims.Params.Get(f.Ctx)
	require.NoError(t, err)
	cp.MinRounds, cp.PContinue = 2, sdkmath.LegacyZeroDec()
	require.NoError(t, f.Claims.Params.Set(f.Ctx, cp))
	require.NoError(t, f.Validators.SetBlockRandomness(f.Ctx, g.rnd()))
	vm := validatorskeeper.NewMsgServerImpl(f.Validators)
	for _, v := range g.vals {
		_, err := vm.RegisterValidator(f.Ctx, &validatorstypes.MsgRegisterValidator{Operator: v.String(), Systems: []string{"x86_64-linux"},
			Bond: sdk.NewInt64Coin(appparams.BondDenom, bond)})
		require.NoError(t, err)
	}
	res, err := g.claimMsgs.SubmitClaim(f.Ctx, &claimstypes.MsgSubmitClaim{Publisher: g.pub.String(), DerivationCid: g.drv,
		OutputCommitment: claimstypes.ClaimCommitment(g.pub.String(), g.drv, g.claimed, pubSalt),
		System:           "x86_64-linux", Deposit: sdk.NewInt64Coin(appparams.BondDenom, 100*bct)})
	require.NoError(t, err)
	g.claimID = res.ClaimId
	g.next(t)
	return g
}

func (g *game) rnd() []byte {
	h := sha256.Sum256([]byte(fmt.Sprintf("beacon %d", g.height)))
	g.height++
	return h[:]
}

func (g *game) next(t *testing.T) {
	g.f.NextBlock(t, g.rnd())
	g.f.CheckInvariants(t)
}

func (g *game) claim(t *testing.T) claimstypes.Claim {
	c, err := g.f.Claims.GetClaim(g.f.Ctx, g.claimID)
	require.NoError(t, err)
	return c
}

// commit has the currently assigned validator commit to output (x/claims/README.md §Blind
// rounds) and returns who it was.
func (g *game) commit(t *testing.T, output string, ms uint64) sdk.AccAddress {
	c := g.claim(t)
	i := c.OpenAssignment()
	require.GreaterOrEqual(t, i, 0, "claim %d is %s, nobody assigned", c.Id, c.Status)
	a := c.Assignments[i]
	_, err := g.claimMsgs.CommitBuild(g.f.Ctx, &claimstypes.MsgCommitBuild{Validator: a.Validator, ClaimId: c.Id, Round: a.Round,
		Commitment: claimstypes.BuildCommitment(a.Validator, c.Id, a.Round, output, ms, buildSalt)})
	require.NoError(t, err)
	v := sdk.MustAccAddressFromBech32(a.Validator)
	g.committed = append(g.committed, build{validator: v, round: a.Round, output: output, ms: ms})
	g.next(t)
	return v
}

// reveal opens the publisher's commitment (once) and those of the builds committed since the
// last reveal; the claim must be REVEALING.
func (g *game) reveal(t *testing.T) {
	c := g.claim(t)
	require.Equal(t, claimstypes.CLAIM_STATUS_REVEALING, c.Status)
	if !c.Revealed() {
		_, err := g.claimMsgs.RevealClaim(g.f.Ctx, &claimstypes.MsgRevealClaim{Publisher: g.pub.String(), ClaimId: c.Id, OutputCid: g.claimed, Salt: pubSalt})
		require.NoError(t, err)
	}
	for _, b := range g.committed {
		_, err := g.claimMsgs.RevealBuild(g.f.Ctx, &claimstypes.MsgRevealBuild{Validator: b.validator.String(), ClaimId: c.Id, Round: b.round,
			OutputCid: b.output, BuildTimeMs: b.ms, Salt: buildSalt})
		require.NoError(t, err)
	}
	g.committed = nil
	g.next(t)
}

// vote has every predictor commit o, then reveal, then runs to reveal_end.
func (g *game) vote(t *testing.T, o types.Outcome) types.Market {
	ms, err := g.f.Market.MarketsByClaimIDs(g.f.Ctx, g.claimID)
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	m := ms[len(ms)-1]
	require.Equal(t, types.MARKET_STATUS_OPEN, m.Status)
	for i, p := range g.preds {
		sl := salt(byte(i + 1))
		h, err := tally.CommitHash(tally.Outcome(o), sl, p)
		require.NoError(t, err)
		_, err = g.mktMsgs.CommitPrediction(g.f.Ctx, &types.MsgCommitPrediction{Predictor: p.String(), MarketId: m.Id, CommitHash: h,
			Stake: sdk.NewInt64Coin(appparams.BondDenom, 60*bct)})
		require.NoError(t, err)
	}
	for g.f.Ctx.BlockHeight() <= m.CommitEnd {
		g.next(t)
	}
	for i, p := range g.preds {
		_, err := g.mktMsgs.RevealPrediction(g.f.Ctx, &types.MsgRevealPrediction{Predictor: p.String(), MarketId: m.Id, Outcome: o, Salt: salt(byte(i + 1))})
		require.NoError(t, err)
	}
	for g.f.Ctx.BlockHeight() <= m.RevealEnd {
		g.next(t)
	}
	m, err = g.f.Market.GetMarket(g.f.Ctx, m.Id)
	require.NoError(t, err)
	require.Equal(t, types.MARKET_STATUS_RESOLVED, m.Status)
	return m
}

func (g *game) bondOf(t *testing.T, v sdk.AccAddress) int64 {
	val, err := g.f.Validators.GetValidator(g.f.Ctx, v)
	require.NoError(t, err)
	return val.Bond.Amount.Int64()
}

func TestIntegrationFakeOutputIsMisbehaviourClaim(t *testing.T) {
	g := newGame(t, true)
	f := g.f
	lazy := g.commit(t, g.claimed, 5000) // round 1 colludes: it commits to the fake output
	honest := g.commit(t, g.trueOut, 5200)
	g.reveal(t)
	require.Equal(t, claimstypes.CLAIM_STATUS_DISPUTED, g.claim(t).Status)
	pubBefore, honestBefore := f.Balance(g.pub), f.Balance(honest)
	supply := f.BK.GetSupply(f.Ctx, appparams.BondDenom).Amount

	m := g.vote(t, types.OUTCOME_MISBEHAVIOUR_CLAIM)
	require.Equal(t, types.OUTCOME_MISBEHAVIOUR_CLAIM, m.Outcome)
	require.Equal(t, []string{lazy.String()}, m.Agreeing)
	c := g.claim(t)
	require.Equal(t, claimstypes.CLAIM_STATUS_REJECTED, c.Status)
	require.False(t, c.DepositLocked)
	// Deposit 100 BCT + 10 % of the lazy validator's 1000 BCT bond = 200; half to the exposer.
	require.Equal(t, int64(bond-100*bct), g.bondOf(t, lazy))
	require.Equal(t, int64(bond), g.bondOf(t, honest))
	require.Equal(t, pubBefore, f.Balance(g.pub), "the deposit is not returned")
	require.Equal(t, honestBefore+100*bct, f.Balance(honest))
	require.Equal(t, supply.Sub(sdkmath.NewInt(100*bct)), f.BK.GetSupply(f.Ctx, appparams.BondDenom).Amount)
	// The honest dissenter's build time is credited; the lazy one earns nothing.
	hs, err := f.Bct.ValidatorStats.Get(f.Ctx, honest)
	require.NoError(t, err)
	require.Equal(t, sdkmath.LegacyNewDec(5200), hs.RewardableTime)
	ls, err := f.Bct.ValidatorStats.Get(f.Ctx, lazy)
	require.NoError(t, err)
	require.True(t, ls.RewardableTime.IsZero())
	require.Equal(t, sdkmath.NewInt(100*bct), ls.TotalSlashed)
}

func TestIntegrationLyingValidatorIsMisbehaviourReport(t *testing.T) {
	g := newGame(t, false)
	f := g.f
	first := g.commit(t, g.trueOut, 4000)
	liar := g.commit(t, testutil.CID(t, cid.DagProtobuf, "forged"), 4000)
	g.reveal(t)
	require.Equal(t, claimstypes.CLAIM_STATUS_DISPUTED, g.claim(t).Status)
	firstBefore := f.Balance(first)
	m := g.vote(t, types.OUTCOME_MISBEHAVIOUR_REPORT)
	require.Equal(t, types.OUTCOME_MISBEHAVIOUR_REPORT, m.Outcome)
	require.Equal(t, int64(bond-100*bct), g.bondOf(t, liar))
	require.Equal(t, firstBefore+50*bct, f.Balance(first), "the agreeing validator exposed the liar")
	// The round is replayed (the claim is PENDING until the next block's assignment); an
	// honest commit and reveal then make the claim VALID.
	require.Equal(t, claimstypes.CLAIM_STATUS_PENDING, g.claim(t).Status)
	g.next(t)
	require.Equal(t, claimstypes.CLAIM_STATUS_ASSIGNED, g.claim(t).Status)
	third := g.commit(t, g.trueOut, 4400)
	g.reveal(t)
	require.NotEqual(t, liar, third)
	c := g.claim(t)
	require.Equal(t, claimstypes.CLAIM_STATUS_VALID, c.Status)
	require.False(t, c.DepositLocked, "the deposit is returned on VALID")
	// Both honest builders earn u_a = 4200; the liar nothing.
	for _, v := range []sdk.AccAddress{first, third} {
		s, err := f.Bct.ValidatorStats.Get(f.Ctx, v)
		require.NoError(t, err)
		require.Equal(t, sdkmath.LegacyNewDec(4200), s.RewardableTime)
	}
	// At the period end they are paid from the mint.
	for f.Ctx.BlockHeight() < 100 {
		g.next(t)
	}
	g.next(t)
	rec, err := f.Bct.PeriodRecords.Get(f.Ctx, 1)
	require.NoError(t, err)
	require.Equal(t, uint32(2), rec.PaidValidators)
	require.True(t, rec.ValidatorsPaid.IsPositive())
	s, err := f.Bct.ValidatorStats.Get(f.Ctx, first)
	require.NoError(t, err)
	require.Equal(t, rec.ValidatorsPaid.QuoRaw(2), s.TotalRewards)
	require.True(t, f.BK.GetBalance(f.Ctx, f.AK.GetModuleAddress(bcttypes.DevFundName), appparams.BondDenom).Amount.Equal(rec.DevFund))
}

func TestIntegrationNonDeterminismEndsValid(t *testing.T) {
	g := newGame(t, false)
	f := g.f
	a := g.commit(t, g.trueOut, 3000)
	b := g.commit(t, testutil.CID(t, cid.DagProtobuf, "same build, other timestamp"), 3000)
	g.reveal(t)
	m := g.vote(t, types.OUTCOME_NON_DETERMINISM)
	require.True(t, m.Decided)
	c := g.claim(t)
	require.Equal(t, claimstypes.CLAIM_STATUS_VALID, c.Status)
	for _, v := range []sdk.AccAddress{a, b} {
		require.Equal(t, int64(bond), g.bondOf(t, v))
		s, err := f.Bct.ValidatorStats.Get(f.Ctx, v)
		require.NoError(t, err)
		require.Equal(t, sdkmath.LegacyNewDec(3000), s.RewardableTime)
	}
	require.Equal(t, int64(1000*bct-100_000), f.Balance(g.pub), "deposit back, claim fee paid")
}
