package simtest

import (
	"encoding/binary"
	"encoding/json"
	"strconv"

	sdkmath "cosmossdk.io/math"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	appparams "github.com/buildchain/buildchain/app/params"
	bcttypes "github.com/buildchain/buildchain/x/bct/types"
	claimssim "github.com/buildchain/buildchain/x/claims/simulation"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	markettypes "github.com/buildchain/buildchain/x/market/types"
	valtypes "github.com/buildchain/buildchain/x/validators/types"
)

// Kind is what a build validator of a Population does with its assignments.
type Kind int

const (
	// Honest builds and commits the true output.
	Honest Kind = iota
	// Colluding knows a lying publisher's fake output and commits it without building; on an
	// honest claim it builds (it cannot agree with an output it does not know: blind rounds).
	Colluding
	// Lazy never builds: it commits a guess (it cannot copy the claimed output: blind rounds).
	Lazy
)

func (k Kind) String() string {
	return [...]string{"honest", "colluding", "lazy"}[k]
}

// System is the one system a Population's builders build for.
const System = "x86_64-linux"

// Population is a chosen set of build validators for RunWith: its Genesis registers the first
// Builders simulation accounts as active build validators of System with equal Bond, the first
// Bad of them of kind BadKind, the others Honest; the other accounts are publishers. Every
// account gets Fund more ubct, so deposits, stakes and fees never run short. x/claims,
// x/validators, x/market and x/bct start from their default params (the chain's game, not the
// SDK's random one), then Params may change them.
type Population struct {
	Builders, Bad int
	BadKind       Kind
	Bond          sdk.Coin
	Fund          sdkmath.Int
	Params        func(c *claimstypes.Params, v *valtypes.Params, m *markettypes.Params, b *bcttypes.Params)

	kinds      map[string]Kind // builder address (bytes) → kind
	builders   []sdk.AccAddress
	publishers []sdk.AccAddress
	start      map[string]sdkmath.Int // ubct balance at genesis
}

// Kind is the kind of the builder at addr, and whether addr is a builder.
func (p *Population) Kind(addr sdk.AccAddress) (Kind, bool) {
	k, ok := p.kinds[string(addr)]
	return k, ok
}

// BuilderAddrs are the builders, in registration order (the Bad ones first).
func (p *Population) BuilderAddrs() []sdk.AccAddress { return p.builders }

// Publishers are the accounts that are not builders.
func (p *Population) Publishers() []sdk.AccAddress { return p.publishers }

// StartBalance is addr's ubct balance at genesis.
func (p *Population) StartBalance(addr sdk.AccAddress) sdkmath.Int { return p.start[string(addr)] }

// Genesis is an Options.Genesis that sets the population up.
func (p *Population) Genesis(cdc codec.JSONCodec, accs []simtypes.Account, state map[string]json.RawMessage) {
	if len(accs) <= p.Builders {
		panic("simtest: a population needs more accounts than builders (publishers)")
	}
	cg, vg, mg, bg := claimstypes.DefaultGenesis(), valtypes.DefaultGenesis(), markettypes.DefaultGenesis(), bcttypes.DefaultGenesis()
	if p.Params != nil {
		p.Params(&cg.Params, &vg.Params, &mg.Params, &bg.Params)
	}
	p.kinds, p.start = map[string]Kind{}, map[string]sdkmath.Int{}
	p.builders, p.publishers = nil, nil
	bonds := sdkmath.ZeroInt()
	for i, acc := range accs {
		if i >= p.Builders {
			p.publishers = append(p.publishers, acc.Address)
			continue
		}
		k := Honest
		if i < p.Bad {
			k = p.BadKind
		}
		p.kinds[string(acc.Address)] = k
		p.builders = append(p.builders, acc.Address)
		vg.Validators = append(vg.Validators, valtypes.Validator{Operator: acc.Address.String(), Systems: []string{System},
			Bond: p.Bond, Status: valtypes.VALIDATOR_STATUS_ACTIVE, Efficiency: sdkmath.LegacyOneDec()})
		bonds = bonds.Add(p.Bond.Amount)
	}
	// The bonds are held by the validators module account; every account gets Fund more.
	var bank banktypes.GenesisState
	cdc.MustUnmarshalJSON(state[banktypes.ModuleName], &bank)
	fund := sdk.NewCoin(appparams.BondDenom, p.Fund)
	for _, acc := range accs {
		found := false
		for i, b := range bank.Balances {
			if b.Address == acc.Address.String() {
				bank.Balances[i].Coins = b.Coins.Add(fund)
				found = true
			}
		}
		if !found {
			bank.Balances = append(bank.Balances, banktypes.Balance{Address: acc.Address.String(), Coins: sdk.NewCoins(fund)})
		}
	}
	for _, b := range bank.Balances {
		if addr, err := sdk.AccAddressFromBech32(b.Address); err == nil {
			p.start[string(addr)] = b.Coins.AmountOf(appparams.BondDenom)
		}
	}
	bank.Balances = append(bank.Balances, banktypes.Balance{
		Address: authtypes.NewModuleAddress(valtypes.ModuleName).String(), Coins: sdk.NewCoins(sdk.NewCoin(appparams.BondDenom, bonds))})
	bank.Supply = bank.Supply.Add(sdk.NewCoin(appparams.BondDenom, bonds.Add(p.Fund.MulRaw(int64(len(accs))))))
	state[banktypes.ModuleName] = cdc.MustMarshalJSON(&bank)
	state[claimstypes.ModuleName] = cdc.MustMarshalJSON(cg)
	state[valtypes.ModuleName] = cdc.MustMarshalJSON(vg)
	state[markettypes.ModuleName] = cdc.MustMarshalJSON(mg)
	state[bcttypes.ModuleName] = cdc.MustMarshalJSON(bg)
}

// What the simulated builders and publishers build: every output and salt is derived from the
// derivation (and the builder), so that the operation that reveals can recompute what the one
// that committed used.

func outputCID(parts ...string) string {
	sum, err := mh.Sum(claimssim.Hash(parts...), mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.DagProtobuf, sum).String()
}

// TrueOutput is what building drv gives.
func TrueOutput(drv string) string { return outputCID("true", drv) }

// FakeOutput is what a lying publisher claims for drv (and its colluders commit).
func FakeOutput(drv string) string { return outputCID("fake", drv) }

// guess is what a lazy builder commits for drv: it knows neither the true nor the claimed output.
func guess(validator, drv string) string { return outputCID("guess", validator, drv) }

// TrueMs is the time building drv takes, 1 to 5 s: the work an assignment asks for.
func TrueMs(drv string) uint64 {
	return 1000 + uint64(binary.BigEndian.Uint32(claimssim.Hash("ms", drv)[:4]))%4000
}

func salt(parts ...string) []byte {
	return claimssim.Hash(append([]string{"salt"}, parts...)...)[:claimstypes.MinSaltLen]
}

// commitOf is what a builder of kind k commits to for a round of a claim of drv, fake or not:
// output and build time.
func commitOf(k Kind, validator, drv string, fake bool) (string, uint64) {
	switch {
	case k == Lazy:
		return guess(validator, drv), TrueMs(drv)
	case k == Colluding && fake:
		return FakeOutput(drv), TrueMs(drv)
	}
	return TrueOutput(drv), TrueMs(drv)
}

func roundSalt(validator string, claim uint64, round uint32) []byte {
	return salt("build", validator, strconv.FormatUint(claim, 10), strconv.FormatUint(uint64(round), 10))
}
