package msgfuzz

import (
	"context"
	"reflect"
	"testing"

	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	gogoproto "github.com/cosmos/gogoproto/proto"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	bctkeeper "github.com/buildchain/buildchain/x/bct/keeper"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	claimskeeper "github.com/buildchain/buildchain/x/claims/keeper"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	marketkeeper "github.com/buildchain/buildchain/x/market/keeper"
	"github.com/buildchain/buildchain/x/market/testutil"
	markettypes "github.com/buildchain/buildchain/x/market/types"
	validatorskeeper "github.com/buildchain/buildchain/x/validators/keeper"
	validatorstypes "github.com/buildchain/buildchain/x/validators/types"
)

// msgTypes are every Msg of the four modules; the first byte of each fuzzed message picks one.
var msgTypes = []func() sdk.Msg{
	func() sdk.Msg { return &claimstypes.MsgUpdateParams{} },
	func() sdk.Msg { return &claimstypes.MsgSubmitClaim{} },
	func() sdk.Msg { return &claimstypes.MsgReportBuild{} },
	func() sdk.Msg { return &validatorstypes.MsgUpdateParams{} },
	func() sdk.Msg { return &validatorstypes.MsgRegisterValidator{} },
	func() sdk.Msg { return &validatorstypes.MsgUpdateValidator{} },
	func() sdk.Msg { return &validatorstypes.MsgUnbondValidator{} },
	func() sdk.Msg { return &validatorstypes.MsgUnjail{} },
	func() sdk.Msg { return &validatorstypes.MsgRegisterVrfKey{} },
	func() sdk.Msg { return &markettypes.MsgUpdateParams{} },
	func() sdk.Msg { return &markettypes.MsgCommitPrediction{} },
	func() sdk.Msg { return &markettypes.MsgRevealPrediction{} },
	func() sdk.Msg { return &markettypes.MsgAddEvidence{} },
	func() sdk.Msg { return &bcttypes.MsgUpdateParams{} },
	func() sdk.Msg { return &validatorstypes.MsgBeacon{} },
	func() sdk.Msg { return &claimstypes.MsgCommitBuild{} },
	func() sdk.Msg { return &claimstypes.MsgRevealBuild{} },
	func() sdk.Msg { return &claimstypes.MsgRevealClaim{} },
}

// Every Msg the four modules register is in msgTypes (a Msg added later is fuzzed too).
func TestEveryMsgFuzzed(t *testing.T) {
	reg := codectypes.NewInterfaceRegistry()
	sdk.RegisterInterfaces(reg)
	claimstypes.RegisterInterfaces(reg)
	validatorstypes.RegisterInterfaces(reg)
	markettypes.RegisterInterfaces(reg)
	bcttypes.RegisterInterfaces(reg)
	fuzzed := map[string]bool{}
	for _, mk := range msgTypes {
		fuzzed[sdk.MsgTypeURL(mk())] = true
	}
	impls := reg.ListImplementations(sdk.MsgInterfaceProtoName)
	require.NotEmpty(t, impls)
	for _, url := range impls {
		require.True(t, fuzzed[url], "%s is not in msgTypes", url)
	}
}

// Short stand-ins the fuzzer can hit: a string field holding "a0".."a3" becomes a funded account,
// "gov" the modules' authority, "c0".."c3" a valid CID (derivation or output).
var (
	accounts = []string{testutil.Addr("a0").String(), testutil.Addr("a1").String(), testutil.Addr("a2").String(), testutil.Addr("a3").String()}
	cids     []string // set by FuzzMsgs: two dag-json (derivations), one raw, one dag-pb
)

// expand replaces the stand-ins in every string field of msg (recursively).
func expand(v reflect.Value, authority string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			expand(v.Elem(), authority)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				expand(v.Field(i), authority)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := 0; i < v.Len(); i++ {
				expand(v.Index(i), authority)
			}
		}
	case reflect.String:
		s := v.String()
		switch {
		case s == "gov":
			v.SetString(authority)
		case len(s) == 2 && s[0] == 'a' && s[1] >= '0' && s[1] <= '3':
			v.SetString(accounts[s[1]-'0'])
		case len(s) == 2 && s[0] == 'c' && s[1] >= '0' && s[1] <= '3':
			v.SetString(cids[s[1]-'0'])
		}
	}
}

// stack is the module stack and its msg servers.
type stack struct {
	full       *testutil.Full
	base       sdk.Context
	claims     claimstypes.MsgServer
	validators validatorstypes.MsgServer
	market     markettypes.MsgServer
	bct        bcttypes.MsgServer
	log        func(format string, args ...any) // rejections, when set
}

func newStack(tb testing.TB) *stack {
	full := testutil.NewFull(tb)
	cids = []string{testutil.CID(tb, cid.DagJSON, `{"a":1}`), testutil.CID(tb, cid.DagJSON, `{"b":2}`),
		testutil.CID(tb, cid.Raw, "out"), testutil.CID(tb, cid.DagProtobuf, "dir")}
	for _, a := range accounts {
		full.Fund(tb, sdk.MustAccAddressFromBech32(a), 10_000_000_000)
	}
	return &stack{full: full, base: full.Ctx, claims: claimskeeper.NewMsgServerImpl(full.Claims),
		validators: validatorskeeper.NewMsgServerImpl(full.Validators),
		market:     marketkeeper.NewMsgServerImpl(full.Market), bct: bctkeeper.NewMsgServerImpl(full.Bct)}
}

// run decodes up to 8 messages (type byte, length byte, protobuf bytes each) and delivers the
// valid ones, ending a block after each, from the same start state every time; it returns how
// many the msg servers accepted and fails t on a broken invariant.
func (s *stack) run(t *testing.T, data []byte) (accepted int) {
	ctx, _ := s.base.CacheContext()
	s.full.Ctx = ctx
	for n := 0; n < 8 && len(data) >= 2; n++ {
		typ, size := int(data[0]), int(data[1])
		data = data[2:]
		if size > len(data) {
			size = len(data)
		}
		body := data[:size]
		data = data[size:]
		msg := msgTypes[typ%len(msgTypes)]()
		if err := gogoproto.Unmarshal(body, msg.(gogoproto.Message)); err != nil {
			continue
		}
		expand(reflect.ValueOf(msg), s.full.Authority)
		if vb, ok := msg.(sdk.HasValidateBasic); ok {
			if err := vb.ValidateBasic(); err != nil {
				if s.log != nil {
					s.log("%T: %v", msg, err)
				}
				continue
			}
		}
		if s.deliver(msg) {
			accepted++
		}
		s.full.NextBlock(t, body)
	}
	s.full.CheckInvariants(t)
	return accepted
}

// FuzzMsgs: no input may panic or break an invariant.
func FuzzMsgs(f *testing.F) {
	s := newStack(f)
	for _, seed := range seeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { s.run(t, data) })
}

// The seeds reach the msg servers (a fuzzer starting from inputs that all fail early explores
// little): three validators register, a blind claim is submitted and a validator commits to
// its first round.
func TestSeedsReachMsgServers(t *testing.T) {
	s := newStack(t)
	s.log = t.Logf
	require.Equal(t, 5, s.run(t, seeds(t)[0]), "a blind claim and its first commit")
}

// deliver runs msg through its module's msg server in a cached context that is written only
// on success, as the SDK's message router does; errors are the expected answer to bad input.
func (s *stack) deliver(msg sdk.Msg) bool {
	cs, vs, ms, bs := s.claims, s.validators, s.market, s.bct
	cctx, write := s.full.Ctx.CacheContext()
	c := context.Context(cctx)
	var err error
	switch m := msg.(type) {
	case *claimstypes.MsgUpdateParams:
		_, err = cs.UpdateParams(c, m)
	case *claimstypes.MsgSubmitClaim:
		_, err = cs.SubmitClaim(c, m)
	case *claimstypes.MsgReportBuild:
		_, err = cs.ReportBuild(c, m)
	case *validatorstypes.MsgUpdateParams:
		_, err = vs.UpdateParams(c, m)
	case *validatorstypes.MsgRegisterValidator:
		_, err = vs.RegisterValidator(c, m)
	case *validatorstypes.MsgUpdateValidator:
		_, err = vs.UpdateValidator(c, m)
	case *validatorstypes.MsgUnbondValidator:
		_, err = vs.UnbondValidator(c, m)
	case *validatorstypes.MsgUnjail:
		_, err = vs.Unjail(c, m)
	case *validatorstypes.MsgRegisterVrfKey:
		_, err = vs.RegisterVrfKey(c, m)
	case *markettypes.MsgUpdateParams:
		_, err = ms.UpdateParams(c, m)
	case *markettypes.MsgCommitPrediction:
		_, err = ms.CommitPrediction(c, m)
	case *markettypes.MsgRevealPrediction:
		_, err = ms.RevealPrediction(c, m)
	case *markettypes.MsgAddEvidence:
		_, err = ms.AddEvidence(c, m)
	case *bcttypes.MsgUpdateParams:
		_, err = bs.UpdateParams(c, m)
	case *validatorstypes.MsgBeacon:
		_, err = vs.Beacon(c, m)
	case *claimstypes.MsgCommitBuild:
		_, err = cs.CommitBuild(c, m)
	case *claimstypes.MsgRevealBuild:
		_, err = cs.RevealBuild(c, m)
	case *claimstypes.MsgRevealClaim:
		_, err = cs.RevealClaim(c, m)
	default:
		panic("msgfuzz: no msg server for " + sdk.MsgTypeURL(msg))
	}
	if err == nil {
		write()
	} else if s.log != nil {
		s.log("%T: %v", msg, err)
	}
	return err == nil
}

// seeds are valid messages in the fuzz input format, so the fuzzer starts from inputs that reach
// the msg servers: register validators, submit a claim, report, a blind claim and its commit,
// commit and reveal a prediction, params.
func seeds(f testing.TB) [][]byte {
	f.Helper()
	enc := func(typ int, m gogoproto.Message) []byte {
		b, err := gogoproto.Marshal(m)
		if err != nil || len(b) > 255 {
			f.Fatalf("seed %T: %v (%d bytes)", m, err, len(b))
		}
		return append([]byte{byte(typ), byte(len(b))}, b...)
	}
	join := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	reg := func(a string) []byte {
		return enc(4, &validatorstypes.MsgRegisterValidator{Operator: a, Systems: []string{"x86_64-linux"}, Bond: testutil.Coins(2_000_000_000)[0]})
	}
	// A blind claim and the first round's commit (commitments over the expanded names).
	salt := make([]byte, claimstypes.MinSaltLen)
	blind := enc(1, &claimstypes.MsgSubmitClaim{Publisher: "a3", DerivationCid: "c0", System: "x86_64-linux", Deposit: testutil.Coins(10_000_000)[0],
		OutputCommitment: claimstypes.ClaimCommitment(accounts[3], cids[0], cids[2], salt)})
	commit := enc(msgIndex(&claimstypes.MsgCommitBuild{}), &claimstypes.MsgCommitBuild{Validator: "a0", ClaimId: 1, Round: 1,
		Commitment: claimstypes.BuildCommitment(accounts[0], 1, 1, cids[2], 1000, salt)})
	var out [][]byte
	out = append(out, join(reg("a0"), reg("a1"), reg("a2"), blind, commit))
	for i, mk := range msgTypes {
		out = append(out, enc(i, mk().(gogoproto.Message)))
	}
	out = append(out, join(enc(10, &markettypes.MsgCommitPrediction{Predictor: "a1", MarketId: 1, CommitHash: make([]byte, 32), Stake: testutil.Coins(1000)[0]}),
		enc(11, &markettypes.MsgRevealPrediction{Predictor: "a1", MarketId: 1, Salt: make([]byte, 16)})))
	out = append(out, enc(0, &claimstypes.MsgUpdateParams{Authority: "gov", Params: claimstypes.DefaultParams()}))
	out = append(out, enc(3, &validatorstypes.MsgUpdateParams{Authority: "gov", Params: validatorstypes.DefaultParams()}))
	return out
}

// msgIndex is the type byte of m's type in msgTypes.
func msgIndex(m sdk.Msg) int {
	for i, mk := range msgTypes {
		if sdk.MsgTypeURL(mk()) == sdk.MsgTypeURL(m) {
			return i
		}
	}
	panic("msgfuzz: not in msgTypes: " + sdk.MsgTypeURL(m))
}
