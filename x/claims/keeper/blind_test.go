package keeper_test

import (
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/claims/types"
)

var (
	claimSalt = []byte("publisher salt 0123456789")
	buildSalt = []byte("builder salt 0123456789")
)

// commit makes the assigned validator commit to output; it returns the assignment.
func (e *env) commit(t *testing.T, id uint64, output string) (types.Assignment, string) {
	t.Helper()
	a := e.assigned(t, id)
	res, err := e.ClaimMsgs.CommitBuild(e.Ctx, &types.MsgCommitBuild{Validator: a.Validator, ClaimId: id, Round: a.Round,
		Commitment: types.BuildCommitment(a.Validator, id, a.Round, output, 1234, buildSalt)})
	require.NoError(t, err)
	return a, res.Status
}

func (e *env) revealBuild(id uint64, a types.Assignment, output string) (*types.MsgRevealBuildResponse, error) {
	return e.ClaimMsgs.RevealBuild(e.Ctx, &types.MsgRevealBuild{Validator: a.Validator, ClaimId: id, Round: a.Round,
		OutputCid: output, BuildTimeMs: 1234, Salt: buildSalt})
}

func (e *env) revealClaim(id uint64, output string, salt []byte) (*types.MsgRevealClaimResponse, error) {
	return e.ClaimMsgs.RevealClaim(e.Ctx, &types.MsgRevealClaim{Publisher: e.publisher.String(), ClaimId: id, OutputCid: output, Salt: salt})
}

// committedBlind plays a blind claim through `rounds` commits (p_continue 0), the first
// committing to firstOut, the others to out; the claim is then REVEALING.
func committedBlind(t *testing.T, rounds uint32, firstOut string, tune func(*types.Params)) (*env, uint64, []types.Assignment) {
	e := newEnv(t, 4, func(p *types.Params) {
		p.MinRounds, p.MaxRounds, p.PContinue = rounds, rounds, sdkmath.LegacyZeroDec()
		if tune != nil {
			tune(p)
		}
	})
	id := e.submit(t)
	var as []types.Assignment
	for r := uint32(1); r <= rounds; r++ {
		e.NextBlock(t, nil)
		o := out
		if r == 1 {
			o = firstOut
		}
		a, st := e.commit(t, id, o)
		as = append(as, a)
		if r < rounds {
			require.Equal(t, "pending", st, "round %d: another round is drawn at the commit", r)
		} else {
			require.Equal(t, "revealing", st)
		}
		e.CheckInvariants(t)
	}
	return e, id, as
}

func TestBlindClaimValid(t *testing.T) {
	e := newEnv(t, 3, func(p *types.Params) { p.MinRounds, p.MaxRounds, p.PContinue = 2, 2, sdkmath.LegacyZeroDec() })
	id := e.submit(t)
	c := e.claim(t, id)
	require.True(t, c.IsBlind())
	require.Empty(t, c.OutputCid, "the claimed output is not public")
	res, err := e.ClaimQuery.ClaimsByOutput(e.Ctx, &types.QueryClaimsByOutputRequest{OutputCid: out})
	require.NoError(t, err)
	require.Empty(t, res.Claims)

	e.NextBlock(t, nil)
	// An open report is refused, and nothing is revealed before the last commit.
	e.expectNoChange(t, types.ErrOpenClaim, (func() error {
		a := e.assigned(t, id)
		_, err := e.ClaimMsgs.ReportBuild(e.Ctx, &types.MsgReportBuild{Validator: a.Validator, ClaimId: id, Round: a.Round, OutputCid: out, BuildTimeMs: 1})
		return err
	}))
	e.expectNoChange(t, types.ErrRevealTooEarly, (func() error { _, err := e.revealClaim(id, out, claimSalt); return err }))
	a1, st := e.commit(t, id, out)
	require.Equal(t, "pending", st)
	require.Contains(t, eventTypes(e), "buildchain.claims.v1.EventBuildCommitted")
	e.expectNoChange(t, types.ErrRevealTooEarly, (func() error { _, err := e.revealClaim(id, out, claimSalt); return err }))
	e.expectNoChange(t, types.ErrRevealTooEarly, (func() error { _, err := e.revealBuild(id, a1, out); return err }))

	e.NextBlock(t, nil)
	a2, st := e.commit(t, id, out)
	require.Equal(t, "revealing", st)
	require.NotEqual(t, a1.Validator, a2.Validator)
	require.Contains(t, eventTypes(e), "buildchain.claims.v1.EventRevealOpened")
	c = e.claim(t, id)
	require.Equal(t, uint32(2), c.Rounds)
	require.Equal(t, e.Ctx.BlockHeight()+int64(types.DefaultReportTimeoutBlocks), c.RevealDeadline)
	// Genesis export/import keeps a revealing claim and its reveal deadline.
	gs, err := e.Claims.ExportGenesis(e.Ctx)
	require.NoError(t, err)
	require.NoError(t, gs.Validate())
	g := newEnv(t, 0, nil)
	require.NoError(t, g.Claims.InitGenesis(g.Ctx, gs))
	has, err := g.Claims.RevealDeadlines.Has(g.Ctx, collJoin(c.RevealDeadline, id))
	require.NoError(t, err)
	require.True(t, has)
	msg, broken := keeperQueues(g)
	require.False(t, broken, msg)

	e.NextBlock(t, nil)
	// Wrong openings are refused and change nothing: another output, another salt, someone
	// else's commitment.
	e.expectNoChange(t, types.ErrRevealMismatch, (func() error { _, err := e.revealClaim(id, otherOut, claimSalt); return err }))
	e.expectNoChange(t, types.ErrRevealMismatch, (func() error {
		_, err := e.revealClaim(id, out, []byte("another salt 0123456789"))
		return err
	}))
	e.expectNoChange(t, types.ErrRevealMismatch, (func() error { _, err := e.revealBuild(id, a1, otherOut); return err }))
	copier := a2
	copier.Round = a1.Round
	e.expectNoChange(t, types.ErrNotAssigned, (func() error { _, err := e.revealBuild(id, copier, out); return err }))

	r1, err := e.revealBuild(id, a1, out)
	require.NoError(t, err)
	require.Equal(t, "revealing", r1.Status, "the publisher has not revealed")
	rc, err := e.revealClaim(id, out, claimSalt)
	require.NoError(t, err)
	require.Equal(t, "revealing", rc.Status, "round 2 has not revealed")
	e.expectNoChange(t, types.ErrAlreadyReported, (func() error { _, err := e.revealClaim(id, out, claimSalt); return err }))
	r2, err := e.revealBuild(id, a2, out)
	require.NoError(t, err)
	require.Equal(t, "valid", r2.Status)
	for _, ev := range []string{"EventClaimRevealed", "EventBuildRevealed", "EventBuildReported", "EventClaimValid", "EventDepositReturned"} {
		require.Contains(t, eventTypes(e), "buildchain.claims.v1."+ev)
	}
	c = e.claim(t, id)
	require.Equal(t, out, c.OutputCid)
	require.Zero(t, c.RevealDeadline)
	require.Equal(t, types.ROUND_STATUS_AGREED, c.Assignments[0].Status)
	require.Equal(t, types.ROUND_STATUS_AGREED, c.Assignments[1].Status)
	require.Equal(t, ubct(1_000_000_000).Sub(fee), e.Bank.GetBalance(e.Ctx, e.publisher, denom), "deposit returned")
	res, err = e.ClaimQuery.ClaimsByOutput(e.Ctx, &types.QueryClaimsByOutputRequest{OutputCid: out})
	require.NoError(t, err)
	require.Len(t, res.Claims, 1, "indexed by output once revealed")
	v, err := e.ClaimQuery.VerifiedOutput(e.Ctx, &types.QueryVerifiedOutputRequest{DerivationCid: drv})
	require.NoError(t, err)
	require.Equal(t, out, v.OutputCid)
	require.Equal(t, []uint64{id}, e.hooks.validated)
	e.CheckInvariants(t)
}

func TestBlindDissentGoesToMarketThenReplays(t *testing.T) {
	e, id, as := committedBlind(t, 2, otherOut, nil)
	_, err := e.revealClaim(id, out, claimSalt)
	require.NoError(t, err)
	_, err = e.revealBuild(id, as[1], out)
	require.NoError(t, err)
	res, err := e.revealBuild(id, as[0], otherOut)
	require.NoError(t, err)
	require.Equal(t, "disputed", res.Status)
	c := e.claim(t, id)
	require.Equal(t, []uint64{id}, e.hooks.disputed)
	require.Equal(t, types.ROUND_STATUS_DISAGREED, c.Assignments[0].Status)
	require.Equal(t, types.ROUND_STATUS_AGREED, c.Assignments[1].Status, "the market knows who agreed with the claim")
	require.Contains(t, eventTypes(e), "buildchain.claims.v1.EventClaimDisputed")
	e.CheckInvariants(t)

	// The market judges the dissent a lie: its round is played again, committed and revealed
	// as before (the claimed output is public now, so its reveals open right after the commit).
	require.NoError(t, e.Claims.ResolveDispute(e.Ctx, id, types.OutcomeMisbehaviourReport))
	c = e.claim(t, id)
	require.Equal(t, types.CLAIM_STATUS_PENDING, c.Status)
	require.Equal(t, uint32(1), c.Round)
	e.NextBlock(t, nil)
	a, st := e.commit(t, id, out)
	require.Equal(t, uint32(1), a.Round)
	require.NotEqual(t, as[0].Validator, a.Validator)
	require.Equal(t, "revealing", st, "the number of rounds was fixed at the first commits")
	r, err := e.revealBuild(id, a, out)
	require.NoError(t, err)
	require.Equal(t, "valid", r.Status)
	require.Equal(t, uint32(2), e.claim(t, id).Round)
	e.CheckInvariants(t)
}

func TestBlindNonDeterminismIsValid(t *testing.T) {
	e, id, as := committedBlind(t, 2, otherOut, nil)
	_, err := e.revealClaim(id, out, claimSalt)
	require.NoError(t, err)
	_, err = e.revealBuild(id, as[0], otherOut)
	require.NoError(t, err)
	res, err := e.revealBuild(id, as[1], out)
	require.NoError(t, err)
	require.Equal(t, "disputed", res.Status)
	require.NoError(t, e.Claims.ResolveDispute(e.Ctx, id, types.OutcomeNonDeterminism))
	c := e.claim(t, id)
	require.Equal(t, types.CLAIM_STATUS_VALID, c.Status)
	require.Equal(t, types.ROUND_STATUS_NON_DETERMINISM, c.Assignments[0].Status)
	e.CheckInvariants(t)
}

func TestBlindMissingBuilderRevealIsATimeout(t *testing.T) {
	e, id, as := committedBlind(t, 2, out, func(p *types.Params) { p.ReportTimeoutBlocks = 4 })
	_, err := e.revealClaim(id, out, claimSalt)
	require.NoError(t, err)
	_, err = e.revealBuild(id, as[1], out)
	require.NoError(t, err)
	deadline := e.claim(t, id).RevealDeadline
	for e.Ctx.BlockHeight() < deadline {
		e.NextBlock(t, nil)
		require.Equal(t, types.CLAIM_STATUS_REVEALING, e.claim(t, id).Status)
	}
	e.EndBlock(t) // the deadline block: round 1 missed its reveal, is penalised and replayed
	c := e.claim(t, id)
	require.Equal(t, types.ROUND_STATUS_REVEAL_MISSED, c.Assignments[0].Status)
	require.Contains(t, eventTypes(e), "buildchain.claims.v1.EventRevealMissed")
	require.Contains(t, eventTypes(e), "buildchain.validators.v1.EventValidatorSlashed")
	v, _ := e.Validators.GetValidator(e.Ctx, sdk.MustAccAddressFromBech32(as[0].Validator))
	require.True(t, v.Bond.Amount.LT(sdkmath.NewInt(minBond)), "slashed as for a missed deadline")
	a := e.assigned(t, id) // reassigned in the same EndBlock
	require.Equal(t, uint32(1), a.Round)
	e.CheckInvariants(t)
}

func TestBlindMissingPublisherRevealRejectsAndBurns(t *testing.T) {
	e, id, as := committedBlind(t, 1, out, func(p *types.Params) { p.ReportTimeoutBlocks = 3 })
	_, err := e.revealBuild(id, as[0], out)
	require.NoError(t, err)
	burned := e.Bank.Burned().AmountOf(denom)
	for e.Ctx.BlockHeight() < e.claim(t, id).RevealDeadline {
		e.NextBlock(t, nil)
	}
	e.EndBlock(t)
	c := e.claim(t, id)
	require.Equal(t, types.CLAIM_STATUS_REJECTED, c.Status)
	require.False(t, c.DepositLocked)
	require.Equal(t, burned.Add(deposit.Amount), e.Bank.Burned().AmountOf(denom), "the deposit is burned")
	require.Equal(t, ubct(1_000_000_000).Sub(fee).Sub(deposit), e.Bank.GetBalance(e.Ctx, e.publisher, denom))
	require.Contains(t, eventTypes(e), "buildchain.claims.v1.EventClaimRejected")
	e.CheckInvariants(t)
}

func TestSubmitClaimCarriesACommitmentNeverTheOutput(t *testing.T) {
	m := types.MsgSubmitClaim{Publisher: sdk.AccAddress(make([]byte, 20)).String(), DerivationCid: drv, System: "x86_64-linux", Deposit: deposit}
	require.ErrorIs(t, m.ValidateBasic(), types.ErrInvalidCommitment, "neither")
	m.OutputCommitment = []byte("short")
	require.ErrorIs(t, m.ValidateBasic(), types.ErrInvalidCommitment)
	m.OutputCommitment = types.ClaimCommitment(m.Publisher, drv, out, claimSalt)
	require.NoError(t, m.ValidateBasic())
	m.OutputCid = out
	require.ErrorIs(t, m.ValidateBasic(), types.ErrOpenClaim, "both")
	m.OutputCommitment = nil
	require.ErrorIs(t, m.ValidateBasic(), types.ErrOpenClaim, "open")
}
