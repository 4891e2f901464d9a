package keeper_test

import (
	"context"
	"fmt"
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"
	"github.com/cosmos/cosmos-sdk/types/query"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

	"github.com/buildchain/buildchain/x/claims/types"
	vt "github.com/buildchain/buildchain/x/validators/testutil"
	valtypes "github.com/buildchain/buildchain/x/validators/types"
)

const denom = "ubct"

func ubct(n int64) sdk.Coin { return sdk.NewInt64Coin(denom, n) }

func mkCID(codec uint64, s string) string {
	sum, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(codec, sum).String()
}

var (
	drv      = mkCID(cid.DagJSON, "derivation hello")
	out      = mkCID(cid.DagProtobuf, "output hello")
	otherOut = mkCID(cid.DagProtobuf, "output evil")
	minBond  = valtypes.DefaultMinBond.Amount.Int64()
	deposit  = types.DefaultMinDeposit
	fee      = types.DefaultClaimFee

	feeCollector = authtypes.NewModuleAddress(authtypes.FeeCollectorName)
)

// recorder records hook calls.
type recorder struct{ disputed, validated []uint64 }

func (r *recorder) AfterClaimDisputed(_ context.Context, c types.Claim) error {
	r.disputed = append(r.disputed, c.Id)
	return nil
}

func (r *recorder) AfterClaimValidated(_ context.Context, c types.Claim) error {
	r.validated = append(r.validated, c.Id)
	return nil
}

type env struct {
	*vt.Fixture
	hooks     *recorder
	publisher sdk.AccAddress
	vals      []sdk.AccAddress
}

// newEnv: n build validators with equal bonds on x86_64-linux, a funded publisher, and
// claims params tuned by tune.
func newEnv(t *testing.T, n int, tune func(*types.Params)) *env {
	f := vt.NewFixture(t)
	e := &env{Fixture: f, hooks: &recorder{}, publisher: vt.Addr(200)}
	f.Claims.SetHooks(e.hooks)
	f.Bank.Fund(e.publisher, sdk.NewCoins(ubct(1_000_000_000)))
	for i := 1; i <= n; i++ {
		a := vt.Addr(i)
		f.Bank.Fund(a, sdk.NewCoins(ubct(2*minBond)))
		_, err := f.ValMsgs.RegisterValidator(f.Ctx, &valtypes.MsgRegisterValidator{Operator: a.String(), Systems: []string{"x86_64-linux"}, Bond: ubct(minBond)})
		require.NoError(t, err)
		e.vals = append(e.vals, a)
	}
	p := types.DefaultParams()
	// These tests are about the mechanics, written for a game one agreeing report can end;
	// the defaults (README.md §Parameters) always play two rounds.
	p.MinRounds, p.MaxRounds, p.PContinue = 1, 8, sdkmath.LegacyNewDecWithPrec(5, 1)
	if tune != nil {
		tune(&p)
	}
	_, err := f.ClaimMsgs.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: f.Authority.String(), Params: p})
	require.NoError(t, err)
	return e
}

// submit submits a blind claim of `out` about drv (committed with claimSalt).
func (e *env) submit(t *testing.T) uint64 {
	t.Helper()
	res, err := e.ClaimMsgs.SubmitClaim(e.Ctx, e.submitMsg(e.publisher))
	require.NoError(t, err)
	return res.ClaimId
}

func (e *env) submitMsg(pub sdk.AccAddress) *types.MsgSubmitClaim {
	return &types.MsgSubmitClaim{
		Publisher: pub.String(), DerivationCid: drv, System: "x86_64-linux", Deposit: deposit,
		OutputCommitment: types.ClaimCommitment(pub.String(), drv, out, claimSalt),
	}
}

func (e *env) claim(t *testing.T, id uint64) types.Claim {
	t.Helper()
	c, err := e.Claims.GetClaim(e.Ctx, id)
	require.NoError(t, err)
	return c
}

func (e *env) assigned(t *testing.T, id uint64) types.Assignment {
	t.Helper()
	c := e.claim(t, id)
	require.Equal(t, types.CLAIM_STATUS_ASSIGNED, c.Status)
	return c.Assignments[c.OpenAssignment()]
}

// expectNoChange runs fn, requires its error and that neither module's state nor any
// balance changed.
func (e *env) expectNoChange(t *testing.T, want error, fn func() error) {
	t.Helper()
	cb, err := e.Claims.ExportGenesis(e.Ctx)
	require.NoError(t, err)
	vb, err := e.Validators.ExportGenesis(e.Ctx)
	require.NoError(t, err)
	bal := e.Bank.Snapshot()
	orig := e.Ctx
	e.Ctx, _ = e.Ctx.CacheContext() // DeliverTx discards a failed Msg's writes
	err = fn()
	e.Ctx = orig
	require.ErrorIs(t, err, want)
	ca, _ := e.Claims.ExportGenesis(e.Ctx)
	va, _ := e.Validators.ExportGenesis(e.Ctx)
	require.Equal(t, cb, ca)
	require.Equal(t, vb, va)
	require.Equal(t, bal, e.Bank.Snapshot())
}

func TestSubmitAssignAgreeValid(t *testing.T) {
	e := newEnv(t, 2, func(p *types.Params) { p.PContinue = sdkmath.LegacyZeroDec() })
	id := e.submit(t)
	require.Equal(t, uint64(1), id)
	c := e.claim(t, id)
	require.Equal(t, types.CLAIM_STATUS_PENDING, c.Status)
	require.True(t, c.DepositLocked)
	// The fee leaves the publisher with the deposit; the module holds it until EndBlock.
	require.Equal(t, deposit.Add(fee), e.Bank.GetBalance(e.Ctx, e.Claims.ModuleAddress(), denom))
	require.True(t, e.Bank.GetBalance(e.Ctx, feeCollector, denom).IsZero())
	require.Equal(t, ubct(1_000_000_000).Sub(deposit).Sub(fee), e.Bank.GetBalance(e.Ctx, e.publisher, denom))
	e.CheckInvariants(t)

	require.Contains(t, eventTypes(e), "buildchain.claims.v1.EventClaimSubmitted")
	e.EndBlock(t) // PENDING → ASSIGNED(1); the fee goes to the fee collector
	require.Equal(t, deposit, e.Bank.GetBalance(e.Ctx, e.Claims.ModuleAddress(), denom))
	require.Equal(t, fee, e.Bank.GetBalance(e.Ctx, feeCollector, denom))
	fees, err := e.Claims.PendingBlockFees(e.Ctx)
	require.NoError(t, err)
	require.True(t, fees.IsZero(), "forwarded fees are forgotten: %s", fees)
	require.Contains(t, eventTypes(e), "buildchain.claims.v1.EventClaimAssigned")
	a := e.assigned(t, id)
	require.Equal(t, uint32(1), a.Round)
	require.NotEqual(t, e.publisher.String(), a.Validator)
	require.Equal(t, e.Ctx.BlockHeight()+int64(types.DefaultReportTimeoutBlocks), a.DeadlineHeight)
	open, err := e.ClaimQuery.ClaimsByValidator(e.Ctx, &types.QueryClaimsByValidatorRequest{Validator: a.Validator, OpenOnly: true})
	require.NoError(t, err)
	require.Len(t, open.Claims, 1)
	e.CheckInvariants(t)

	e.NextBlock(t, []byte("r2"))
	_, st := e.commit(t, id, out)
	require.Equal(t, "revealing", st, "p_continue = 0 and min_rounds = 1")
	_, err = e.revealClaim(id, out, claimSalt)
	require.NoError(t, err)
	res, err := e.revealBuild(id, a, out)
	require.NoError(t, err)
	require.Equal(t, "valid", res.Status)
	for _, ev := range []string{"EventBuildReported", "EventClaimValid", "EventDepositReturned"} {
		require.Contains(t, eventTypes(e), "buildchain.claims.v1."+ev)
	}
	c = e.claim(t, id)
	require.Equal(t, types.CLAIM_STATUS_VALID, c.Status)
	require.False(t, c.DepositLocked)
	require.Equal(t, types.ROUND_STATUS_AGREED, c.Assignments[0].Status)
	require.Equal(t, uint64(1234), c.Assignments[0].BuildTimeMs)
	require.Equal(t, ubct(1_000_000_000).Sub(fee), e.Bank.GetBalance(e.Ctx, e.publisher, denom), "deposit returned")
	require.Equal(t, []uint64{id}, e.hooks.validated)
	v, err := e.ClaimQuery.VerifiedOutput(e.Ctx, &types.QueryVerifiedOutputRequest{DerivationCid: drv})
	require.NoError(t, err)
	require.Equal(t, out, v.OutputCid)
	require.Equal(t, id, v.ClaimId)
	open, _ = e.ClaimQuery.ClaimsByValidator(e.Ctx, &types.QueryClaimsByValidatorRequest{Validator: a.Validator, OpenOnly: true})
	require.Empty(t, open.Claims)
	all, _ := e.ClaimQuery.ClaimsByValidator(e.Ctx, &types.QueryClaimsByValidatorRequest{Validator: a.Validator})
	require.Len(t, all.Claims, 1)
	val, _ := e.Validators.GetValidator(e.Ctx, sdk.MustAccAddressFromBech32(a.Validator))
	require.Equal(t, uint64(1), val.CompletedAssignments)
	e.CheckInvariants(t)
}

func TestMinRoundsUseDistinctValidators(t *testing.T) {
	e := newEnv(t, 3, func(p *types.Params) { p.MinRounds, p.MaxRounds, p.PContinue = 3, 3, sdkmath.LegacyZeroDec() })
	id := e.submit(t)
	seen := map[string]bool{}
	var as []types.Assignment
	for round := uint32(1); round <= 3; round++ {
		e.NextBlock(t, []byte(fmt.Sprintf("r%d", round)))
		a, st := e.commit(t, id, out)
		require.Equal(t, round, a.Round)
		require.False(t, seen[a.Validator], "earlier validators are excluded")
		seen[a.Validator] = true
		as = append(as, a)
		if round < 3 {
			require.Equal(t, "pending", st)
		} else {
			require.Equal(t, "revealing", st)
		}
	}
	_, err := e.revealClaim(id, out, claimSalt)
	require.NoError(t, err)
	for i, a := range as {
		res, err := e.revealBuild(id, a, out)
		require.NoError(t, err)
		if i < 2 {
			require.Equal(t, "revealing", res.Status)
		} else {
			require.Equal(t, "valid", res.Status)
		}
	}
	require.Equal(t, uint32(3), e.claim(t, id).Round)
	e.CheckInvariants(t)
}

func TestRunsOutOfValidatorsAfterMinRoundsIsValid(t *testing.T) {
	e := newEnv(t, 1, func(p *types.Params) { p.MinRounds, p.MaxRounds, p.PContinue = 1, 8, sdkmath.LegacyOneDec() })
	id := e.submit(t)
	e.NextBlock(t, nil)
	a, st := e.commit(t, id, out)
	require.Equal(t, "pending", st, "p_continue = 1 asks for another round")
	e.NextBlock(t, nil)
	c := e.claim(t, id)
	require.Equal(t, types.CLAIM_STATUS_REVEALING, c.Status, "no other validator: the rounds committed are all there can be")
	require.Equal(t, uint32(1), c.Rounds)
	_, err := e.revealClaim(id, out, claimSalt)
	require.NoError(t, err)
	res, err := e.revealBuild(id, a, out)
	require.NoError(t, err)
	require.Equal(t, "valid", res.Status)
	require.Equal(t, uint32(1), e.claim(t, id).Round)
}

func TestMismatchDisputes(t *testing.T) {
	e, id := disputed(t, nil)
	c := e.claim(t, id)
	require.Equal(t, types.CLAIM_STATUS_DISPUTED, c.Status)
	require.Equal(t, out, c.OutputCid)
	require.Equal(t, otherOut, c.Assignments[c.DisputedAssignment()].OutputCid, "both outputs recorded")
	require.True(t, c.DepositLocked)
	require.Equal(t, []uint64{id}, e.hooks.disputed)
	require.Contains(t, eventTypes(e), "buildchain.claims.v1.EventClaimDisputed")
	// DISPUTED stays DISPUTED (until a market resolves it): nothing is assigned, nothing expires.
	for i := 0; i < int(types.DefaultReportTimeoutBlocks)+2; i++ {
		e.NextBlock(t, nil)
	}
	require.Equal(t, types.CLAIM_STATUS_DISPUTED, e.claim(t, id).Status)
	_, err := e.ClaimQuery.VerifiedOutput(e.Ctx, &types.QueryVerifiedOutputRequest{DerivationCid: drv})
	require.ErrorContains(t, err, "no verified output")
	e.CheckInvariants(t)
}

func TestDeadlineJailsAndReassigns(t *testing.T) {
	e := newEnv(t, 2, func(p *types.Params) { p.ReportTimeoutBlocks = 5; p.PContinue = sdkmath.LegacyZeroDec() })
	vp, _ := e.Validators.Params.Get(e.Ctx)
	vp.MaxMissedAssignments = 1
	_, err := e.ValMsgs.UpdateParams(e.Ctx, &valtypes.MsgUpdateParams{Authority: e.Authority.String(), Params: vp})
	require.NoError(t, err)

	id := e.submit(t)
	e.EndBlock(t)
	lazy := e.assigned(t, id)
	// Up to and including the deadline block the assignment stands.
	for e.Ctx.BlockHeight() < lazy.DeadlineHeight {
		e.NextBlock(t, nil)
		require.Equal(t, lazy.Validator, e.assigned(t, id).Validator)
	}
	e.EndBlock(t) // end of the deadline block: timed out, reassigned in the same EndBlock
	c := e.claim(t, id)
	require.Len(t, c.Assignments, 2)
	require.Equal(t, types.ROUND_STATUS_TIMED_OUT, c.Assignments[0].Status)
	for _, ev := range []string{"claims.v1.EventRoundTimedOut", "validators.v1.EventValidatorSlashed", "validators.v1.EventValidatorJailed", "claims.v1.EventClaimAssigned"} {
		require.Contains(t, eventTypes(e), "buildchain."+ev)
	}
	next := e.assigned(t, id)
	require.Equal(t, uint32(1), next.Round, "the same round is reassigned")
	require.NotEqual(t, lazy.Validator, next.Validator)
	v, _ := e.Validators.GetValidator(e.Ctx, sdk.MustAccAddressFromBech32(lazy.Validator))
	require.Equal(t, valtypes.VALIDATOR_STATUS_JAILED, v.Status)
	slash := sdkmath.LegacyNewDec(minBond).Mul(types.DefaultSlashFractionTimeout).TruncateInt()
	require.Equal(t, sdkmath.NewInt(minBond).Sub(slash), v.Bond.Amount)
	require.Equal(t, slash, e.Bank.Burned().AmountOf(denom))

	// The late validator's report is refused; the new one's counts.
	e.NextBlock(t, nil)
	e.expectNoChange(t, types.ErrAlreadyReported, func() error {
		_, err := e.ClaimMsgs.CommitBuild(e.Ctx, &types.MsgCommitBuild{Validator: lazy.Validator, ClaimId: id, Round: 1,
			Commitment: types.BuildCommitment(lazy.Validator, id, 1, out, 1, buildSalt)})
		return err
	})
	_, st := e.commit(t, id, out)
	require.Equal(t, "revealing", st)
	e.CheckInvariants(t)
}

func TestNoValidatorExpires(t *testing.T) {
	e := newEnv(t, 0, func(p *types.Params) { p.ReportTimeoutBlocks = 3 })
	id := e.submit(t)
	for i := 0; i < 3; i++ {
		e.NextBlock(t, nil)
		require.Equal(t, types.CLAIM_STATUS_PENDING, e.claim(t, id).Status)
	}
	e.EndBlock(t)
	c := e.claim(t, id)
	require.Equal(t, types.CLAIM_STATUS_EXPIRED, c.Status)
	require.Contains(t, eventTypes(e), "buildchain.claims.v1.EventClaimExpired")
	require.False(t, c.DepositLocked)
	require.Equal(t, ubct(1_000_000_000).Sub(fee), e.Bank.GetBalance(e.Ctx, e.publisher, denom), "deposit refunded, fee kept")
	e.CheckInvariants(t)
}

func TestPublisherIsNeverItsOwnValidator(t *testing.T) {
	e := newEnv(t, 1, func(p *types.Params) { p.ReportTimeoutBlocks = 2 })
	// The only validator publishes: nobody else can check it.
	e.publisher = e.vals[0]
	e.Bank.Fund(e.publisher, sdk.NewCoins(ubct(100_000_000)))
	id := e.submit(t)
	for i := 0; i < 3; i++ {
		e.NextBlock(t, nil)
	}
	require.Equal(t, types.CLAIM_STATUS_EXPIRED, e.claim(t, id).Status)
}

func TestCommitErrorsChangeNothing(t *testing.T) {
	e := newEnv(t, 3, nil)
	id := e.submit(t)
	e.EndBlock(t)
	a := e.assigned(t, id)
	var other string
	for _, v := range e.vals {
		if v.String() != a.Validator {
			other = v.String()
		}
	}
	commitment := types.BuildCommitment(a.Validator, id, 1, out, 10, buildSalt)
	msg := func(mut func(*types.MsgCommitBuild)) func() error {
		return func() error {
			m := &types.MsgCommitBuild{Validator: a.Validator, ClaimId: id, Round: 1, Commitment: commitment}
			mut(m)
			_, err := e.ClaimMsgs.CommitBuild(e.Ctx, m)
			return err
		}
	}
	e.expectNoChange(t, types.ErrClaimNotFound, msg(func(m *types.MsgCommitBuild) { m.ClaimId = 99 }))
	e.expectNoChange(t, types.ErrClaimNotFound, msg(func(m *types.MsgCommitBuild) { m.ClaimId = 0 }))
	e.expectNoChange(t, types.ErrNotAssigned, msg(func(m *types.MsgCommitBuild) { m.Validator = other }))
	e.expectNoChange(t, types.ErrWrongRound, msg(func(m *types.MsgCommitBuild) { m.Round = 2 }))
	e.expectNoChange(t, types.ErrWrongRound, msg(func(m *types.MsgCommitBuild) { m.Round = 0 }))
	e.expectNoChange(t, types.ErrInvalidCommitment, msg(func(m *types.MsgCommitBuild) { m.Commitment = nil }))
	e.expectNoChange(t, types.ErrInvalidCommitment, msg(func(m *types.MsgCommitBuild) { m.Commitment = commitment[1:] }))
	// An open report, even by the assigned validator with the right output, is refused.
	e.expectNoChange(t, types.ErrOpenClaim, func() error {
		_, err := e.ClaimMsgs.ReportBuild(e.Ctx, &types.MsgReportBuild{Validator: a.Validator, ClaimId: id, Round: 1, OutputCid: out, BuildTimeMs: 10})
		return err
	})
	// First commit succeeds (with p_continue > 0 the claim may go on), a second one fails.
	require.NoError(t, msg(func(*types.MsgCommitBuild) {})())
	e.expectNoChange(t, types.ErrAlreadyReported, msg(func(*types.MsgCommitBuild) {}))
	// A commit past the deadline is refused even before EndBlock times it out.
	e2 := newEnv(t, 2, func(p *types.Params) { p.ReportTimeoutBlocks = 1 })
	id2 := e2.submit(t)
	e2.EndBlock(t)
	a2 := e2.assigned(t, id2)
	e2.Ctx = e2.Ctx.WithBlockHeight(a2.DeadlineHeight + 1)
	e2.expectNoChange(t, types.ErrDeadlinePassed, func() error {
		_, err := e2.ClaimMsgs.CommitBuild(e2.Ctx, &types.MsgCommitBuild{Validator: a2.Validator, ClaimId: id2, Round: 1,
			Commitment: types.BuildCommitment(a2.Validator, id2, 1, out, 10, buildSalt)})
		return err
	})
}

func TestSubmitErrorsChangeNothing(t *testing.T) {
	e := newEnv(t, 1, nil)
	poor := vt.Addr(250)
	e.Bank.Fund(poor, sdk.NewCoins(ubct(deposit.Amount.Int64())))
	sub := func(mut func(*types.MsgSubmitClaim)) func() error {
		return func() error {
			m := e.submitMsg(e.publisher)
			mut(m)
			_, err := e.ClaimMsgs.SubmitClaim(e.Ctx, m)
			return err
		}
	}
	e.expectNoChange(t, types.ErrInsufficientDepos, sub(func(m *types.MsgSubmitClaim) { m.Deposit = deposit.SubAmount(sdkmath.OneInt()) }))
	e.expectNoChange(t, types.ErrWrongDenom, sub(func(m *types.MsgSubmitClaim) { m.Deposit = sdk.NewCoin("stake", deposit.Amount) }))
	e.expectNoChange(t, types.ErrInvalidAmount, sub(func(m *types.MsgSubmitClaim) { m.Deposit = ubct(0) }))
	e.expectNoChange(t, types.ErrInvalidCID, sub(func(m *types.MsgSubmitClaim) { m.DerivationCid = "bafy-garbage" }))
	e.expectNoChange(t, types.ErrInvalidCID, sub(func(m *types.MsgSubmitClaim) { m.DerivationCid = out }))
	e.expectNoChange(t, types.ErrInvalidCommitment, sub(func(m *types.MsgSubmitClaim) { m.OutputCommitment = nil }))
	e.expectNoChange(t, types.ErrInvalidCommitment, sub(func(m *types.MsgSubmitClaim) { m.OutputCommitment = m.OutputCommitment[:31] }))
	// An open claim (its output public in the tx) is refused, with or without a commitment.
	e.expectNoChange(t, types.ErrOpenClaim, sub(func(m *types.MsgSubmitClaim) { m.OutputCid = out }))
	e.expectNoChange(t, types.ErrOpenClaim, sub(func(m *types.MsgSubmitClaim) { m.OutputCid, m.OutputCommitment = out, nil }))
	e.expectNoChange(t, types.ErrInvalidSystem, sub(func(m *types.MsgSubmitClaim) { m.System = "windows" }))
	e.expectNoChange(t, nil, nil2(sub(func(m *types.MsgSubmitClaim) { m.Publisher = "bc1bad" })))
	e.expectNoChange(t, sdkerrors.ErrInsufficientFunds, sub(func(m *types.MsgSubmitClaim) { m.Publisher = poor.String() })) // deposit ok, fee missing
}

// nil2 turns "some error" into nil for expectNoChange's ErrorIs(nil) … but still requires one.
func nil2(fn func() error) func() error {
	return func() error {
		if err := fn(); err == nil {
			return fmt.Errorf("expected an error")
		}
		return nil
	}
}

// disputed plays a one-round claim (on four validators) whose builder reveals otherOut:
// the claim is DISPUTED.
func disputed(t *testing.T, tune func(*types.Params)) (*env, uint64) {
	e, id, as := committedBlind(t, 1, otherOut, tune)
	_, err := e.revealClaim(id, out, claimSalt)
	require.NoError(t, err)
	res, err := e.revealBuild(id, as[0], otherOut)
	require.NoError(t, err)
	require.Equal(t, "disputed", res.Status)
	return e, id
}

func TestResolveDispute(t *testing.T) {
	t.Run("non-determinism counts the dissent as agreeing", func(t *testing.T) {
		e, id := disputed(t, nil)
		require.NoError(t, e.Claims.ResolveDispute(e.Ctx, id, types.OutcomeNonDeterminism))
		c := e.claim(t, id)
		require.Equal(t, types.CLAIM_STATUS_VALID, c.Status, "the number of rounds was drawn at the commits: no round is added")
		require.Equal(t, types.ROUND_STATUS_NON_DETERMINISM, c.Assignments[0].Status)
		require.Equal(t, uint32(1), c.Round)
		e.CheckInvariants(t)
	})
	t.Run("an inconclusive market leaves the claim unverified: EXPIRED, deposit returned", func(t *testing.T) {
		e, id := disputed(t, nil)
		require.Equal(t, ubct(1_000_000_000).Sub(fee).Sub(deposit), e.Bank.GetBalance(e.Ctx, e.publisher, denom))
		require.NoError(t, e.Claims.ResolveDispute(e.Ctx, id, types.OutcomeInconclusive))
		c := e.claim(t, id)
		require.Equal(t, types.CLAIM_STATUS_EXPIRED, c.Status, "an unverified claim never becomes VALID")
		require.Equal(t, e.Ctx.BlockHeight(), c.FinishedHeight)
		require.False(t, c.DepositLocked)
		require.Equal(t, types.ROUND_STATUS_DISAGREED, c.Assignments[0].Status, "the dissent is not counted as agreeing")
		require.Equal(t, ubct(1_000_000_000).Sub(fee), e.Bank.GetBalance(e.Ctx, e.publisher, denom), "deposit returned")
		require.True(t, e.Bank.GetBalance(e.Ctx, e.Claims.ModuleAddress(), denom).IsZero())
		for _, ev := range []string{"EventDisputeResolved", "EventClaimExpired", "EventDepositReturned"} {
			require.Contains(t, eventTypes(e), "buildchain.claims.v1."+ev)
		}
		require.NotContains(t, eventTypes(e), "buildchain.claims.v1.EventClaimValid")
		require.Empty(t, e.hooks.validated, "no output is recorded as verified")
		_, err := e.ClaimQuery.VerifiedOutput(e.Ctx, &types.QueryVerifiedOutputRequest{DerivationCid: drv})
		require.Error(t, err, "no verified output for the derivation")
		require.ErrorIs(t, e.Claims.ResolveDispute(e.Ctx, id, types.OutcomeInconclusive), types.ErrWrongStatus, "decided once")
		e.CheckInvariants(t)
		e.EndBlock(t)
		require.Equal(t, types.CLAIM_STATUS_EXPIRED, e.claim(t, id).Status, "nothing replays it")
		e.CheckInvariants(t)
	})
	t.Run("misbehaviour of the claim rejects it, deposit seizable once", func(t *testing.T) {
		e, id := disputed(t, nil)
		_, err := e.Claims.SeizeDeposit(e.Ctx, id, "market")
		require.ErrorIs(t, err, types.ErrWrongStatus)
		require.NoError(t, e.Claims.ResolveDispute(e.Ctx, id, types.OutcomeMisbehaviourClaim))
		require.Equal(t, types.CLAIM_STATUS_REJECTED, e.claim(t, id).Status)
		got, err := e.Claims.SeizeDeposit(e.Ctx, id, "market")
		require.NoError(t, err)
		require.Equal(t, deposit, got)
		require.Equal(t, deposit, e.Bank.GetBalance(e.Ctx, authtypes.NewModuleAddress("market"), denom))
		_, err = e.Claims.SeizeDeposit(e.Ctx, id, "market")
		require.ErrorIs(t, err, types.ErrDepositNotLocked)
		require.ErrorIs(t, e.Claims.ResolveDispute(e.Ctx, id, types.OutcomeNonDeterminism), types.ErrWrongStatus)
		e.CheckInvariants(t)
	})
	t.Run("misbehaviour of the report reassigns the round", func(t *testing.T) {
		e, id := disputed(t, nil)
		liar := e.claim(t, id).Assignments[0].Validator
		require.NoError(t, e.Claims.ResolveDispute(e.Ctx, id, types.OutcomeMisbehaviourReport))
		require.Equal(t, types.CLAIM_STATUS_PENDING, e.claim(t, id).Status)
		e.EndBlock(t)
		a := e.assigned(t, id)
		require.Equal(t, uint32(1), a.Round)
		require.NotEqual(t, liar, a.Validator)
		require.Equal(t, types.ROUND_STATUS_REJECTED, e.claim(t, id).Assignments[0].Status)
		e.CheckInvariants(t)
	})
	t.Run("bad calls", func(t *testing.T) {
		e, id := disputed(t, nil)
		require.ErrorIs(t, e.Claims.ResolveDispute(e.Ctx, id, types.DisputeOutcome(42)), types.ErrInvalidOutcome)
		require.ErrorIs(t, e.Claims.ResolveDispute(e.Ctx, 999, types.OutcomeNonDeterminism), types.ErrClaimNotFound)
	})
}

func TestQueriesAndGenesisRoundTrip(t *testing.T) {
	e := newEnv(t, 3, func(p *types.Params) { p.PContinue = sdkmath.LegacyZeroDec() })
	for i := 0; i < 5; i++ {
		e.submit(t)
	}
	e.EndBlock(t)
	a, _ := e.commit(t, 1, otherOut)
	_, err := e.revealClaim(1, out, claimSalt)
	require.NoError(t, err)
	_, err = e.revealBuild(1, a, otherOut)
	require.NoError(t, err)
	e.NextBlock(t, nil)

	res, err := e.ClaimQuery.ClaimsByDerivation(e.Ctx, &types.QueryClaimsByDerivationRequest{DerivationCid: drv, Pagination: &query.PageRequest{Limit: 2, CountTotal: true}})
	require.NoError(t, err)
	require.Len(t, res.Claims, 2)
	require.Equal(t, uint64(5), res.Pagination.Total)
	res, err = e.ClaimQuery.ClaimsByOutput(e.Ctx, &types.QueryClaimsByOutputRequest{OutputCid: out})
	require.NoError(t, err)
	require.Len(t, res.Claims, 1, "only the revealed claim names its output")
	res, err = e.ClaimQuery.ClaimsByPublisher(e.Ctx, &types.QueryClaimsByPublisherRequest{Publisher: e.publisher.String()})
	require.NoError(t, err)
	require.Len(t, res.Claims, 5)
	res, err = e.ClaimQuery.Claims(e.Ctx, &types.QueryClaimsRequest{Status: types.CLAIM_STATUS_DISPUTED})
	require.NoError(t, err)
	require.Len(t, res.Claims, 1)
	one, err := e.ClaimQuery.Claim(e.Ctx, &types.QueryClaimRequest{Id: 1})
	require.NoError(t, err)
	require.Equal(t, types.CLAIM_STATUS_DISPUTED, one.Claim.Status)
	_, err = e.ClaimQuery.Claim(e.Ctx, &types.QueryClaimRequest{Id: 77})
	require.ErrorContains(t, err, "not found")
	_, err = e.ClaimQuery.ClaimsByDerivation(e.Ctx, &types.QueryClaimsByDerivationRequest{DerivationCid: "nope"})
	require.Error(t, err)
	_, err = e.ClaimQuery.ClaimsByPublisher(e.Ctx, &types.QueryClaimsByPublisherRequest{Publisher: "nope"})
	require.Error(t, err)

	gs, err := e.Claims.ExportGenesis(e.Ctx)
	require.NoError(t, err)
	require.NoError(t, gs.Validate())
	require.Equal(t, uint64(6), gs.NextClaimId)
	g := newEnv(t, 0, nil)
	require.NoError(t, g.Claims.InitGenesis(g.Ctx, gs))
	gs2, err := g.Claims.ExportGenesis(g.Ctx)
	require.NoError(t, err)
	require.Equal(t, gs, gs2)
	// Indexes and queues were rebuilt.
	res, err = g.ClaimQuery.ClaimsByOutput(g.Ctx, &types.QueryClaimsByOutputRequest{OutputCid: out})
	require.NoError(t, err)
	require.Len(t, res.Claims, 1)
	msg, broken := keeperQueues(g)
	require.False(t, broken, msg)
	bad := *gs
	bad.NextClaimId = 3
	require.ErrorIs(t, bad.Validate(), types.ErrInvalidGenesis)
	// An undecided open claim cannot be imported (nothing could play it on); a decided one can.
	open := *gs
	open.Claims = append([]types.Claim(nil), gs.Claims...)
	open.Claims[1].OutputCommitment, open.Claims[1].OutputCid = nil, out
	require.ErrorIs(t, open.Validate(), types.ErrOpenClaim)
	open.Claims[1].Status, open.Claims[1].Assignments = types.CLAIM_STATUS_VALID, nil
	require.NoError(t, open.Validate())
}

// BenchmarkSubmitAndAssign measures one claim's on-chain work: MsgSubmitClaim plus its share
// of the EndBlock that assigns it (the ratio against a bank send is bench/tps's job).
func BenchmarkSubmitAndAssign(b *testing.B) {
	t := &testing.T{}
	e := newEnv(t, 10, nil)
	e.Bank.Fund(e.publisher, sdk.NewCoins(ubct(int64(b.N+1)*20_000_000)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.ClaimMsgs.SubmitClaim(e.Ctx, e.submitMsg(e.publisher)); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.Claims.EndBlocker(e.Ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAssignEndBlock measures EndBlock's assignment work per pending claim.
func BenchmarkAssignEndBlock(b *testing.B) {
	t := &testing.T{}
	e := newEnv(t, 10, nil)
	e.Bank.Fund(e.publisher, sdk.NewCoins(ubct(int64(b.N+1)*20_000_000)))
	for i := 0; i < b.N; i++ {
		if _, err := e.ClaimMsgs.SubmitClaim(e.Ctx, e.submitMsg(e.publisher)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	if err := e.Claims.EndBlocker(e.Ctx); err != nil {
		b.Fatal(err)
	}
}

// failing is a hook that fails for one claim (a bug in another module's hook).
type failing struct {
	recorder
	bad uint64
}

func (f *failing) AfterClaimValidated(ctx context.Context, c types.Claim) error {
	if c.Id == f.bad {
		return fmt.Errorf("hook bug on claim %d", c.Id)
	}
	return f.recorder.AfterClaimValidated(ctx, c)
}

// A failing step in EndBlock leaves that claim for the next block and lets the others proceed
// (no chain halt, no partial state).
func TestEndBlockIsolatesAFailingClaim(t *testing.T) {
	f := vt.NewFixture(t)
	h := &failing{bad: 2}
	f.Claims.SetHooks(h)
	e := &env{Fixture: f, hooks: &h.recorder, publisher: vt.Addr(200)}
	f.Bank.Fund(e.publisher, sdk.NewCoins(ubct(1_000_000_000)))
	for i := 1; i <= 2; i++ {
		a := vt.Addr(i)
		f.Bank.Fund(a, sdk.NewCoins(ubct(2*minBond)))
		_, err := f.ValMsgs.RegisterValidator(f.Ctx, &valtypes.MsgRegisterValidator{Operator: a.String(), Systems: []string{"x86_64-linux"}, Bond: ubct(minBond)})
		require.NoError(t, err)
	}
	p := types.DefaultParams()
	p.MinRounds, p.MaxRounds, p.ReportTimeoutBlocks = 1, 2, 3
	p.PContinue = sdkmath.LegacyOneDec() // both validators commit a round of every claim...
	_, err := f.ClaimMsgs.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: f.Authority.String(), Params: p})
	require.NoError(t, err)
	ids := []uint64{e.submit(t), e.submit(t), e.submit(t)}
	for round := 0; round < 2; round++ {
		e.EndBlock(t)
		for _, id := range ids {
			e.commit(t, id, out)
		}
	}
	// ...the first round's builder reveals, the second's does not...
	for _, id := range ids {
		_, err := e.revealClaim(id, out, claimSalt)
		require.NoError(t, err)
		first := e.claim(t, id).Assignments[0]
		res, err := e.revealBuild(id, first, out)
		require.NoError(t, err)
		require.Equal(t, "revealing", res.Status)
	}
	for e.Ctx.BlockHeight() < e.claim(t, ids[0]).RevealDeadline {
		e.NextBlock(t, nil)
	}
	// ...so at the reveal deadline the second round is replayed, which no validator is left
	// to play: EndBlock finishes the claims VALID on the first round; the hook fails for
	// claim 2 only.
	e.EndBlock(t)
	require.Equal(t, types.CLAIM_STATUS_VALID, e.claim(t, 1).Status)
	require.Equal(t, types.CLAIM_STATUS_PENDING, e.claim(t, 2).Status, "left for the next block")
	require.Equal(t, types.CLAIM_STATUS_VALID, e.claim(t, 3).Status, "%+v", e.claim(t, 3))
	// (The recorder is memory, not state: it also saw the discarded first attempt at claim 1.)
	require.Contains(t, h.validated, uint64(1))
	require.Contains(t, h.validated, uint64(3))
	require.NotContains(t, h.validated, uint64(2))
	e.CheckInvariants(t)
	// Next block: still failing, still isolated, nothing lost.
	e.NextBlock(t, nil)
	e.EndBlock(t)
	require.Equal(t, types.CLAIM_STATUS_PENDING, e.claim(t, 2).Status)
	require.True(t, e.claim(t, 2).DepositLocked)
	e.CheckInvariants(t)
}

// The claim fees of a block's submissions leave each publisher with the deposit (one transfer)
// and reach the fee collector together at EndBlock; the invariant holds in between, a failed
// submission adds no fee, and a fee in another denom than the deposit is forwarded too.
func TestClaimFeesForwardedAtEndBlock(t *testing.T) {
	e := newEnv(t, 2, nil)
	for i := 0; i < 3; i++ {
		e.submit(t)
		e.CheckInvariants(t)
	}
	poor := vt.Addr(201)
	e.Bank.Fund(poor, sdk.NewCoins(deposit)) // the deposit but not the fee
	e.expectNoChange(t, sdkerrors.ErrInsufficientFunds, func() error {
		_, err := e.ClaimMsgs.SubmitClaim(e.Ctx, e.submitMsg(poor))
		return err
	})
	require.Equal(t, deposit, e.Bank.GetBalance(e.Ctx, poor, denom), "nothing taken from the failed publisher")
	fees, err := e.Claims.PendingBlockFees(e.Ctx)
	require.NoError(t, err)
	require.Equal(t, sdk.NewCoins(ubct(3*fee.Amount.Int64())), fees)
	require.Equal(t, ubct(3*(deposit.Amount.Int64()+fee.Amount.Int64())), e.Bank.GetBalance(e.Ctx, e.Claims.ModuleAddress(), denom))
	require.True(t, e.Bank.GetBalance(e.Ctx, feeCollector, denom).IsZero())

	e.NextBlock(t, nil)
	require.Equal(t, ubct(3*fee.Amount.Int64()), e.Bank.GetBalance(e.Ctx, feeCollector, denom))
	require.Equal(t, ubct(3*deposit.Amount.Int64()), e.Bank.GetBalance(e.Ctx, e.Claims.ModuleAddress(), denom))
	fees, err = e.Claims.PendingBlockFees(e.Ctx)
	require.NoError(t, err)
	require.True(t, fees.IsZero())
	e.CheckInvariants(t)

	// A block without claims moves nothing.
	e.NextBlock(t, nil)
	require.Equal(t, ubct(3*fee.Amount.Int64()), e.Bank.GetBalance(e.Ctx, feeCollector, denom))

	// A fee in another denom is taken and forwarded as well.
	p, err := e.Claims.Params.Get(e.Ctx)
	require.NoError(t, err)
	p.ClaimFee = sdk.NewInt64Coin("uother", 7)
	_, err = e.ClaimMsgs.UpdateParams(e.Ctx, &types.MsgUpdateParams{Authority: e.Authority.String(), Params: p})
	require.NoError(t, err)
	e.Bank.Fund(e.publisher, sdk.NewCoins(sdk.NewInt64Coin("uother", 17)))
	e.submit(t)
	e.submit(t)
	require.Equal(t, int64(14), e.Bank.GetBalance(e.Ctx, e.Claims.ModuleAddress(), "uother").Amount.Int64())
	e.CheckInvariants(t)
	e.NextBlock(t, nil)
	require.Equal(t, int64(14), e.Bank.GetBalance(e.Ctx, feeCollector, "uother").Amount.Int64())
	require.True(t, e.Bank.GetBalance(e.Ctx, e.Claims.ModuleAddress(), "uother").IsZero())
	require.Equal(t, int64(3), e.Bank.GetBalance(e.Ctx, e.publisher, "uother").Amount.Int64())
	e.CheckInvariants(t)

	// A zero fee records nothing.
	p.ClaimFee = sdk.NewInt64Coin(denom, 0)
	_, err = e.ClaimMsgs.UpdateParams(e.Ctx, &types.MsgUpdateParams{Authority: e.Authority.String(), Params: p})
	require.NoError(t, err)
	e.submit(t)
	fees, err = e.Claims.PendingBlockFees(e.Ctx)
	require.NoError(t, err)
	require.True(t, fees.IsZero())
	e.CheckInvariants(t)
}

// If the fees cannot be forwarded (only a bug could cause it: here the module account is
// drained behind the keeper's back), EndBlock does not halt the chain: the fees stay recorded
// and go out once the account holds them again.
func TestClaimFeeForwardingFailureIsRetried(t *testing.T) {
	e := newEnv(t, 2, nil)
	e.submit(t)
	thief := vt.Addr(202)
	all := e.Bank.GetBalance(e.Ctx, e.Claims.ModuleAddress(), denom)
	require.NoError(t, e.Bank.SendCoinsFromModuleToAccount(e.Ctx, types.ModuleName, thief, sdk.NewCoins(all)))
	e.NextBlock(t, nil) // no error
	require.True(t, e.Bank.GetBalance(e.Ctx, feeCollector, denom).IsZero())
	fees, err := e.Claims.PendingBlockFees(e.Ctx)
	require.NoError(t, err)
	require.Equal(t, sdk.NewCoins(fee), fees, "kept for the next block")
	require.NoError(t, e.Bank.SendCoinsFromAccountToModule(e.Ctx, thief, types.ModuleName, sdk.NewCoins(all)))
	e.CheckInvariants(t)
	e.NextBlock(t, nil)
	require.Equal(t, fee, e.Bank.GetBalance(e.Ctx, feeCollector, denom))
	e.CheckInvariants(t)
}
