package econ

import (
	"crypto/sha256"
	"fmt"
	"math/big"
	"testing"

	"cosmossdk.io/collections"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/market/testutil"
	validatorskeeper "github.com/buildchain/buildchain/x/validators/keeper"
	validatorstypes "github.com/buildchain/buildchain/x/validators/types"
)

// TestBlindFakeAcceptanceOnKeepers plays lying publishers' blind fake claims on the chain
// itself (the real keepers of testutil.Full, block after block, every module's invariants
// checked), against 60 equally bonded build validators of which a third collude (they know
// the fake output and commit it) or are lazy (they see only the claim's commitment and commit
// a guess). A fake is accepted if its reveals end VALID, caught if they end DISPUTED (a
// market). The accepted share with colluders agrees with attack_test.go's exact value for
// the chain's default rules within 4 standard errors; lazy builders accept none. This is
// attack_test.go's figure measured through MsgSubmitClaim, MsgCommitBuild, MsgRevealClaim and
// MsgRevealBuild instead of the game package alone.
func TestBlindFakeAcceptanceOnKeepers(t *testing.T) {
	if testing.Short() {
		t.Skip("fake claims on the keepers: skipped with -short")
	}
	for _, tc := range []struct {
		name   string
		kind   vKind
		claims int
	}{{"colluding", vLiar, 1500}, {"lazy", vLazy, 300}} {
		t.Run(tc.name, func(t *testing.T) {
			accepted, caught := playBlindFakes(t, tc.kind, 20, tc.claims)
			require.Equal(t, tc.claims, accepted+caught)
			got := float64(accepted) / float64(tc.claims)
			if tc.kind == vLazy {
				require.Zero(t, accepted, "lazy builders accepted a blind fake claim")
				return
			}
			exact := acceptanceExact(defaultRules(), 20, 60)
			t.Logf("blind fakes on the keepers, f = 1/3 colluding: %d of %d accepted (%.4f), exact %.4f, bound %.4f; lying publisher's profit at gain 10: %+.3f deposits",
				accepted, tc.claims, got, exact, acceptanceBound(defaultRules(), big.NewRat(1, 3)), publisherProfit(got, 10))
			require.InDelta(t, exact, got, 4*sigma(exact, tc.claims), "measured acceptance %.4f, exact %.4f", got, exact)
		})
	}
}

// playBlindFakes submits n blind fake claims (perBlock a block) with bad of the 60 validators
// of kind kind, every party committing and revealing as soon as it can, and counts the fakes
// whose first verdict was VALID (accepted) or DISPUTED (caught).
func playBlindFakes(t *testing.T, kind vKind, bad, n int) (accepted, caught int) {
	const perBlock = 20
	f := testutil.NewFull(t)
	cm, vm := claimskeeper.NewMsgServerImpl(f.Claims), validatorskeeper.NewMsgServerImpl(f.Validators)
	vp, err := f.Validators.Params.Get(f.Ctx)
	require.NoError(t, err)
	kinds := map[string]vKind{}
	for i := 0; i < 60; i++ {
		addr := testutil.Addr(fmt.Sprintf("blind-v%d", i))
		f.Fund(t, addr, vp.MinBond.Amount.Int64()+1_000_000)
		_, err := vm.RegisterValidator(f.Ctx, &validatorstypes.MsgRegisterValidator{Operator: addr.String(), Systems: []string{"x86_64-linux"},
			Bond: vp.MinBond})
		require.NoError(t, err)
		kinds[addr.String()] = vHonest
		if i < bad {
			kinds[addr.String()] = kind
		}
	}
	pub := testutil.Addr("blind-liar")
	f.Fund(t, pub, int64(n)*200*1_000_000)
	cp, err := f.Claims.Params.Get(f.Ctx)
	require.NoError(t, err)
	beacon := func(h int64) []byte { s := sha256.Sum256([]byte(fmt.Sprint("blind beacon", h))); return s[:] }
	require.NoError(t, f.Validators.SetBlockRandomness(f.Ctx, beacon(0)))
	salt := func(parts ...any) []byte {
		s := sha256.Sum256([]byte(fmt.Sprint(parts...)))
		return s[:claimstypes.MinSaltLen]
	}
	out := func(parts ...any) string { return testutil.CID(t, cid.DagProtobuf, fmt.Sprint(parts...)) }
	fake, truth, claimSalt := map[uint64]string{}, map[uint64]string{}, map[uint64][]byte{}
	done := map[uint64]bool{}
	// what validator v commits for round r of claim id: the fake (colluder), the true output
	// (honest), a guess (lazy: it knows neither).
	result := func(v string, id uint64, r uint32) (string, uint64, []byte) {
		o := truth[id]
		switch kinds[v] {
		case vLiar:
			o = fake[id]
		case vLazy:
			o = out("guess", v, id, r)
		}
		return o, 60_000, salt("build", v, id, r)
	}
	submitted := 0
	for step := 0; len(done) < n; step++ {
		require.Less(t, step, 20*n/perBlock+200, "fake claims never decided")
		for i := 0; i < perBlock && submitted < n; i++ {
			drv := testutil.CID(t, cid.DagJSON, fmt.Sprint("blind drv", submitted))
			fo, fs := out("fake", submitted), salt("claim", submitted)
			res, err := cm.SubmitClaim(f.Ctx, &claimstypes.MsgSubmitClaim{Publisher: pub.String(), DerivationCid: drv,
				OutputCommitment: claimstypes.ClaimCommitment(pub.String(), drv, fo, fs),
				System:           "x86_64-linux", Deposit: cp.MinDeposit})
			require.NoError(t, err)
			fake[res.ClaimId], truth[res.ClaimId], claimSalt[res.ClaimId] = fo, out("true", submitted), fs
			submitted++
		}
		// Every assigned builder commits at once.
		open := openAssignments(t, f)
		for _, k := range open {
			c, err := f.Claims.GetClaim(f.Ctx, k.K2())
			require.NoError(t, err)
			v := k.K1().String()
			o, ms, s := result(v, c.Id, c.Round)
			_, err = cm.CommitBuild(f.Ctx, &claimstypes.MsgCommitBuild{Validator: v, ClaimId: c.Id, Round: c.Round,
				Commitment: claimstypes.BuildCommitment(v, c.Id, c.Round, o, ms, s)})
			require.NoError(t, err)
		}
		// Every REVEALING claim: the publisher and its committed builders reveal.
		revealAll(t, f, cm,
			func(id uint64) (string, []byte) { return fake[id], claimSalt[id] },
			func(v string, id uint64, r uint32) (string, uint64, []byte) { return result(v, id, r) })
		for id := range fake {
			if done[id] {
				continue
			}
			c, err := f.Claims.GetClaim(f.Ctx, id)
			require.NoError(t, err)
			switch c.Status {
			case claimstypes.CLAIM_STATUS_VALID:
				accepted++
				done[id] = true
			case claimstypes.CLAIM_STATUS_DISPUTED:
				caught++
				done[id] = true
			case claimstypes.CLAIM_STATUS_EXPIRED, claimstypes.CLAIM_STATUS_REJECTED:
				t.Fatalf("claim %d ended %s before its reveals were judged", id, c.Status)
			}
		}
		f.NextBlock(t, beacon(f.Ctx.BlockHeight()+1))
		f.CheckInvariants(t)
	}
	return accepted, caught
}

// revealAll has the publisher of every REVEALING claim reveal what claimed says it committed
// to (once), and its committed builders what built says; it returns the claims revealed.
func revealAll(t *testing.T, f *testutil.Full, cm claimstypes.MsgServer, claimed func(id uint64) (string, []byte),
	built func(v string, id uint64, r uint32) (string, uint64, []byte)) []uint64 {
	var revealing []uint64
	require.NoError(t, f.Claims.RevealDeadlines.Walk(f.Ctx, nil, func(k collections.Pair[int64, uint64]) (bool, error) {
		revealing = append(revealing, k.K2())
		return false, nil
	}))
	for _, id := range revealing {
		c, err := f.Claims.GetClaim(f.Ctx, id)
		require.NoError(t, err)
		if !c.Revealed() {
			o, salt := claimed(id)
			_, err = cm.RevealClaim(f.Ctx, &claimstypes.MsgRevealClaim{Publisher: c.Publisher, ClaimId: id, OutputCid: o, Salt: salt})
			require.NoError(t, err)
		}
		for _, a := range c.Assignments {
			if a.Status != claimstypes.ROUND_STATUS_COMMITTED {
				continue
			}
			o, ms, salt := built(a.Validator, id, a.Round)
			_, err = cm.RevealBuild(f.Ctx, &claimstypes.MsgRevealBuild{Validator: a.Validator, ClaimId: id, Round: a.Round,
				OutputCid: o, BuildTimeMs: ms, Salt: salt})
			require.NoError(t, err)
		}
	}
	return revealing
}

// openAssignments are the keys (validator, claim) of every assignment awaiting its report or
// commit.
func openAssignments(t *testing.T, f *testutil.Full) []collections.Pair[sdk.AccAddress, uint64] {
	var open []collections.Pair[sdk.AccAddress, uint64]
	require.NoError(t, f.Claims.OpenAssignments.Walk(f.Ctx, nil, func(k collections.Pair[sdk.AccAddress, uint64]) (bool, error) {
		open = append(open, k)
		return false, nil
	}))
	return open
}
