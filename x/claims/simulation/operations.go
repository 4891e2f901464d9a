package simulation

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand"
	"strconv"

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
	OpWeightMsgCommitBuild = "op_weight_msg_commit_build"
	OpWeightMsgRevealBuild = "op_weight_msg_reveal_build"
	OpWeightMsgRevealClaim = "op_weight_msg_reveal_claim"

	// The weights sum to what submit and report had before blind rounds (160), so the
	// invariant checks of app/simtest keep their share of each block's operations. A claim
	// takes a commit and a reveal per round and the publisher's reveal: submits are fewer so
	// that most rounds are answered and claims reach their reveals.
	DefaultWeightMsgSubmitClaim = 30
	DefaultWeightMsgCommitBuild = 70
	DefaultWeightMsgRevealBuild = 40
	DefaultWeightMsgRevealClaim = 20
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
		simulation.NewWeightedOperation(weight(OpWeightMsgCommitBuild, DefaultWeightMsgCommitBuild), SimulateMsgCommitBuild(txConfig, k, ak, bk)),
		simulation.NewWeightedOperation(weight(OpWeightMsgRevealBuild, DefaultWeightMsgRevealBuild), SimulateMsgRevealBuild(txConfig, k, ak, bk)),
		simulation.NewWeightedOperation(weight(OpWeightMsgRevealClaim, DefaultWeightMsgRevealClaim), SimulateMsgRevealClaim(txConfig, k, ak, bk)),
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
// small pool of derivations so that several claims share one. Claims are blind (README.md
// §Blind rounds): their output and salt are derived from the claim (blindOutput, claimSalt)
// so that SimulateMsgRevealClaim can open the commitment later.
func SimulateMsgSubmitClaim(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	pool := rand.New(rand.NewSource(1))
	derivations := make([]string, 8)
	for i := range derivations {
		derivations[i] = RandomCID(pool, cid.DagJSON)
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
		drv := RandomCID(r, cid.DagJSON)
		if r.Intn(2) == 0 {
			drv = derivations[r.Intn(len(derivations))]
		}
		pub := acc.Address.String()
		msg := &types.MsgSubmitClaim{
			Publisher: pub, DerivationCid: drv, System: Systems[r.Intn(len(Systems))], Deposit: deposit,
			OutputCommitment: types.ClaimCommitment(pub, drv, blindOutput(drv), claimSalt(pub, drv)),
		}
		return simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
			R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
			AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName, CoinsSpentInMsg: need,
		})
	}
}

// pickOpenAssignment picks an open assignment whose validator is a sim account: first among the assignments of a few random
// accounts (so that every validator gets to answer, not only the first in key order), then
// among the first 64 in key order; noop says why there is none.
func pickOpenAssignment(r *rand.Rand, ctx sdk.Context, k keeper.Keeper, accs []simtypes.Account) (simtypes.Account, types.Claim, string, error) {
	pick := func(rng collections.Ranger[collections.Pair[sdk.AccAddress, uint64]]) (simtypes.Account, types.Claim, bool, error) {
		var found []types.Claim
		var accounts []simtypes.Account
		err := k.OpenAssignments.Walk(ctx, rng, func(key collections.Pair[sdk.AccAddress, uint64]) (bool, error) {
			acc, ok := simtypes.FindAccount(accs, key.K1())
			if !ok {
				return false, nil
			}
			c, err := k.GetClaim(ctx, key.K2())
			if err != nil {
				return true, err
			}
			found, accounts = append(found, c), append(accounts, acc)
			return len(found) >= 64, nil
		})
		if err != nil || len(found) == 0 {
			return simtypes.Account{}, types.Claim{}, false, err
		}
		i := r.Intn(len(found))
		return accounts[i], found[i], true, nil
	}
	for try := 0; try < 3; try++ {
		acc, _ := simtypes.RandomAcc(r, accs)
		a, c, ok, err := pick(collections.NewPrefixedPairRange[sdk.AccAddress, uint64](acc.Address))
		if ok || err != nil {
			return a, c, "", err
		}
	}
	a, c, ok, err := pick(nil)
	if err != nil {
		return a, c, "walk", err
	}
	if !ok {
		return a, c, "no open assignment", nil
	}
	return a, c, "", nil
}

// Blind rounds are simulated with results derived from the claim, so that the operation that
// reveals can recompute what the one that committed used.

// Hash is sha256 over parts, each followed by a zero byte: what simulated outputs and salts are
// derived from (app/simtest's too).
func Hash(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// blindOutput is the output a simulated blind claim claims for drv.
func blindOutput(drv string) string {
	sum, err := mh.Sum(Hash("output", drv), mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.DagProtobuf, sum).String()
}

// claimSalt is the salt of a simulated blind claim.
func claimSalt(publisher, drv string) []byte {
	return Hash("claim-salt", publisher, drv)[:types.MinSaltLen]
}

// publisherReveals: one simulated publisher in twelve never reveals (its claim is rejected).
func publisherReveals(publisher, drv string) bool {
	return Hash("reveals", publisher, drv)[0]%12 != 0
}

// buildResult is what a simulated builder commits to for a round: mostly the claimed output,
// one in ten a different one (→ a market), one in twelve never revealed (→ replayed).
type buildResult struct {
	out     string
	ms      uint64
	salt    []byte
	reveals bool
}

func resultOf(validator string, c types.Claim, round uint32) buildResult {
	h := Hash("build", validator, strconv.FormatUint(c.Id, 10), strconv.FormatUint(uint64(round), 10))
	res := buildResult{out: blindOutput(c.DerivationCid), ms: 1 + uint64(binary.BigEndian.Uint32(h[4:8]))%600_000,
		salt: h[8 : 8+types.MinSaltLen], reveals: h[1]%12 != 0}
	if h[0]%10 == 0 {
		res.out = blindOutput(c.DerivationCid + "/dissent/" + validator)
	}
	return res
}

// SimulateMsgCommitBuild makes an assigned validator commit to its result.
func SimulateMsgCommitBuild(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgCommitBuild{})
		acc, c, noop, err := pickOpenAssignment(r, ctx, k, accs)
		if noop != "" || err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, noop), nil, err
		}
		v := acc.Address.String()
		res := resultOf(v, c, c.Round)
		msg := &types.MsgCommitBuild{Validator: v, ClaimId: c.Id, Round: c.Round,
			Commitment: types.BuildCommitment(v, c.Id, c.Round, res.out, res.ms, res.salt)}
		return simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
			R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
			AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName,
		})
	}
}

// revealingClaims returns up to 64 REVEALING claims.
func revealingClaims(ctx sdk.Context, k keeper.Keeper) ([]types.Claim, error) {
	var out []types.Claim
	err := k.RevealDeadlines.Walk(ctx, nil, func(key collections.Pair[int64, uint64]) (bool, error) {
		c, err := k.GetClaim(ctx, key.K2())
		if err != nil {
			return true, err
		}
		out = append(out, c)
		return len(out) >= 64, nil
	})
	return out, err
}

// SimulateMsgRevealBuild makes a committed validator of a REVEALING claim reveal its result
// (some never do: their rounds are replayed after the reveal deadline).
func SimulateMsgRevealBuild(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgRevealBuild{})
		cs, err := revealingClaims(ctx, k)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "walk"), nil, err
		}
		if len(cs) == 0 {
			return simtypes.NoOpMsg(types.ModuleName, typ, "no claim revealing"), nil, nil
		}
		c := cs[r.Intn(len(cs))]
		var committed []types.Assignment
		for round := uint32(1); round <= c.Rounds; round++ {
			if i := c.LatestAssignment(round); i >= 0 && c.Assignments[i].Status == types.ROUND_STATUS_COMMITTED {
				committed = append(committed, c.Assignments[i])
			}
		}
		if len(committed) == 0 {
			return simtypes.NoOpMsg(types.ModuleName, typ, "nothing to reveal"), nil, nil
		}
		a := committed[r.Intn(len(committed))]
		addr, err := sdk.AccAddressFromBech32(a.Validator)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "address"), nil, err
		}
		acc, found := simtypes.FindAccount(accs, addr)
		if !found {
			return simtypes.NoOpMsg(types.ModuleName, typ, "validator is not a sim account"), nil, nil
		}
		res := resultOf(a.Validator, c, a.Round)
		if !res.reveals {
			return simtypes.NoOpMsg(types.ModuleName, typ, "this builder never reveals"), nil, nil
		}
		msg := &types.MsgRevealBuild{Validator: a.Validator, ClaimId: c.Id, Round: a.Round,
			OutputCid: res.out, BuildTimeMs: res.ms, Salt: res.salt}
		return simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
			R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
			AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName,
		})
	}
}

// SimulateMsgRevealClaim makes the publisher of a REVEALING claim reveal its output (some
// never do: their claims are rejected at the reveal deadline).
func SimulateMsgRevealClaim(txConfig client.TxConfig, k keeper.Keeper, ak AccountKeeper, bk BankKeeper) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		typ := sdk.MsgTypeURL(&types.MsgRevealClaim{})
		cs, err := revealingClaims(ctx, k)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "walk"), nil, err
		}
		var unrevealed []types.Claim
		for _, c := range cs {
			if !c.Revealed() {
				unrevealed = append(unrevealed, c)
			}
		}
		if len(unrevealed) == 0 {
			return simtypes.NoOpMsg(types.ModuleName, typ, "no claim to reveal"), nil, nil
		}
		c := unrevealed[r.Intn(len(unrevealed))]
		if !publisherReveals(c.Publisher, c.DerivationCid) {
			return simtypes.NoOpMsg(types.ModuleName, typ, "this publisher never reveals"), nil, nil
		}
		addr, err := sdk.AccAddressFromBech32(c.Publisher)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, typ, "address"), nil, err
		}
		acc, found := simtypes.FindAccount(accs, addr)
		if !found {
			return simtypes.NoOpMsg(types.ModuleName, typ, "publisher is not a sim account"), nil, nil
		}
		msg := &types.MsgRevealClaim{Publisher: c.Publisher, ClaimId: c.Id, OutputCid: blindOutput(c.DerivationCid),
			Salt: claimSalt(c.Publisher, c.DerivationCid)}
		return simulation.GenAndDeliverTxWithRandFees(simulation.OperationInput{
			R: r, App: app, TxGen: txConfig, Msg: msg, Context: ctx, SimAccount: acc,
			AccountKeeper: ak, Bankkeeper: bk, ModuleName: types.ModuleName,
		})
	}
}
