package econ

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"sort"

	"cosmossdk.io/math"

	"github.com/buildchain/buildchain/x/bct/economics"
	"github.com/buildchain/buildchain/x/claims/game"
	"github.com/buildchain/buildchain/x/market/tally"
	"github.com/buildchain/buildchain/x/validators/assign"
)

// The model plays claims through the game with the chain's own pure rules.
// Money is tracked per account in ubct; supply is checked against
// minted − burned after every period.

type vKind int

const (
	vHonest vKind = iota // builds, reports its real time
	vSlow                // builds, reports 3× its real time to earn more
	vLazy                // does not build: copies the claimed output, or (blind rounds) guesses
	vLiar                // colludes with lying publishers: knows their fake output and rubber-stamps it; a fake output against honest claims
)

var vKindNames = []string{"honest", "slow-reporting", "lazy (no build)", "lying"}

type pKind int

const (
	pHonest pKind = iota // deterministic derivation, true output
	pNondet              // honest, but the build is not reproducible
	pLiar                // claims a fake output
)

var pKindNames = []string{"honest", "honest, nondeterministic", "lying (fake output)"}

type config struct {
	Seed                                  int64
	Claims, ClaimsPerPeriod               int
	Validators                            [4]int // per vKind
	Publishers                            [3]int // per pKind
	Bond, MinBond, Deposit, ClaimFee      math.Int
	OtherSupply                           math.Int // held by everyone else (counts for inflation)
	Rules                                 game.Rules
	InflationRate, DevFundShare           math.LegacyDec
	PeriodBlocks, BlocksPerYear           int64
	SlashFraction                         math.LegacyDec
	Quorum                                math.Int
	MarketFee                             math.LegacyDec
	HonestTraders                         int
	TraderStake, AllyStake, PartyStake    math.Int
	TraderJoin, TraderReveal, TraderRight float64 // probabilities (model only)
	Allies                                int
	WeightByEfficiency                    bool
	// RawAverage uses the plain u_a of x/bct/README.md (AverageBuildTime) instead of the
	// efficiency-normalized one, to measure what normalizing buys.
	RawAverage bool
	// FastLearning uses economics.EfficiencyWeight (mean of the first samples) instead of
	// the fixed moving-average weight from the start.
	FastLearning bool
	// SlowPermille is how the "slow-reporting" kind scales its reported times (‰).
	SlowPermille int64
	// ForceAfterMarket plays at least one more round after every decided
	// NON_DETERMINISM market (an undecided one ends the claim EXPIRED).
	ForceAfterMarket bool
	// Open plays the game with the claimed output public (x/claims as it is until blind
	// rounds are wired in): a lazy builder copies it. With blind rounds (the model's default,
	// x/claims/README.md §Parameters) it only sees the publisher's commitment and has nothing
	// to copy: it can only guess.
	Open bool
	// DecoyPermille is the chance (‰) per claim of one decoy assignment (measured here only,
	// not on chain): a validator drawn like a round rebuilds a derivation whose output the
	// chain already knows, is paid its build time if right and slashed (no market needed) if
	// wrong. It catches whoever answers without building, colluding or not.
	DecoyPermille int64
}

func defaultConfig() config {
	bct := func(n int64) math.Int { return math.NewInt(n).MulRaw(1_000_000) }
	return config{
		Seed: 1, Claims: 1000, ClaimsPerPeriod: 10,
		Validators: [4]int{24, 6, 6, 4},
		Publishers: [3]int{14, 3, 3},
		Bond:       bct(1000), MinBond: bct(500), Deposit: bct(100), ClaimFee: bct(1),
		OtherSupply:   bct(100_000_000),
		Rules:         game.Rules{PContinue: math.LegacyNewDecWithPrec(5, 1), MinRounds: 1, MaxRounds: 8},
		InflationRate: math.LegacyNewDecWithPrec(7, 2), DevFundShare: math.LegacyNewDecWithPrec(5, 2),
		PeriodBlocks: 100, BlocksPerYear: 6311520,
		SlashFraction: math.LegacyNewDecWithPrec(10, 2),
		Quorum:        bct(50), MarketFee: math.LegacyNewDecWithPrec(2, 2),
		HonestTraders: 8, TraderStake: bct(20), AllyStake: bct(30), PartyStake: bct(50),
		TraderJoin: 0.8, TraderReveal: 0.9, TraderRight: 0.95, Allies: 2,
		WeightByEfficiency: false, // the chain default: see TestWeightingInvitesUnderReporting
		SlowPermille:       3000,
		FastLearning:       true, // as x/bct does
	}
}

type validator struct {
	addr       []byte
	key        string
	kind       vKind
	speed      int64 // machine speed, ‰ of the average machine's build time
	bond       math.Int
	eff        math.LegacyDec
	samples    uint64         // informative efficiency samples (validations with >= 2 reports)
	rewardable math.LegacyDec // in the current period

	assignments            int
	assignedMs, builtMs    int64
	rewards, exposed, lost math.Int
	wallMs                 int64 // real time its builds took
}

type account struct {
	key                string
	staked, paid, lost math.Int
}

type publisher struct {
	key                    string
	kind                   pKind
	claims, valid, misb    int
	builds                 int // assignments of its claims
	depositsLost, feesPaid math.Int
	liesToMarket           int
	liesSlashed            int
	liesUndetected         int
}

type report struct {
	v      *validator
	output string
	ms     uint64
}

type outcomeCounts struct {
	markets, wrong, undecided int
	byTruth                   map[tally.Outcome]int
}

type model struct {
	cfg          config
	rng          *rand.Rand
	vals         []*validator
	pubs         []*publisher
	traders      []*account
	allies       []*account
	parties      map[string]*account
	devFund      math.Int
	carry        math.Int // validators' share of periods nobody earned
	supply       math.Int
	minted       math.Int
	burned       math.Int
	markets      outcomeCounts
	liarsMissed  []string // lies that reached a market but were never slashed
	wrongSlash   int      // honest actors slashed by a wrong market
	claimID      uint64
	decoys       int // decoy assignments played (DecoyPermille)
	decoysCaught int
}

func newModel(cfg config) *model {
	m := &model{cfg: cfg, rng: rand.New(rand.NewSource(cfg.Seed)), devFund: math.ZeroInt(), carry: math.ZeroInt(),
		minted: math.ZeroInt(), burned: math.ZeroInt(), parties: map[string]*account{}, markets: outcomeCounts{byTruth: map[tally.Outcome]int{}}}
	supply := cfg.OtherSupply
	n := 0
	for k, cnt := range cfg.Validators {
		for i := 0; i < cnt; i++ {
			addr := sha256.Sum256([]byte(fmt.Sprintf("validator-%d", n)))
			v := &validator{addr: addr[:20], key: fmt.Sprintf("val%02d", n), kind: vKind(k),
				speed: 600 + m.rng.Int63n(1001), bond: cfg.Bond, eff: economics.InitialEfficiency(),
				rewardable: math.LegacyZeroDec(), rewards: math.ZeroInt(), exposed: math.ZeroInt(), lost: math.ZeroInt()}
			m.vals = append(m.vals, v)
			supply = supply.Add(cfg.Bond)
			n++
		}
	}
	for k, cnt := range cfg.Publishers {
		for i := 0; i < cnt; i++ {
			m.pubs = append(m.pubs, &publisher{key: fmt.Sprintf("pub%02d", len(m.pubs)), kind: pKind(k),
				depositsLost: math.ZeroInt(), feesPaid: math.ZeroInt()})
		}
	}
	for i := 0; i < cfg.HonestTraders; i++ {
		m.traders = append(m.traders, &account{key: fmt.Sprintf("trader%02d", i), staked: math.ZeroInt(), paid: math.ZeroInt(), lost: math.ZeroInt()})
	}
	for i := 0; i < cfg.Allies; i++ {
		m.allies = append(m.allies, &account{key: fmt.Sprintf("ally%02d", i), staked: math.ZeroInt(), paid: math.ZeroInt(), lost: math.ZeroInt()})
	}
	m.supply = supply
	return m
}

func (m *model) randomness() []byte {
	var b [32]byte
	binary.BigEndian.PutUint64(b[:], m.rng.Uint64())
	binary.BigEndian.PutUint64(b[8:], m.rng.Uint64())
	return b[:]
}

// pick assigns the next validator with the chain's assignment rule.
func (m *model) pick(exclude map[string]bool) (*validator, error) {
	var cands []assign.Candidate
	byAddr := map[string]*validator{}
	for _, v := range m.vals {
		if v.bond.LT(m.cfg.MinBond) || exclude[v.key] {
			continue // a validator whose bond fell below min_bond is unbonded
		}
		cands = append(cands, assign.Candidate{Address: v.addr, Weight: assign.Weight(v.bond, v.eff, m.cfg.WeightByEfficiency)})
		byAddr[string(v.addr)] = v
	}
	c, err := assign.Pick(cands, assign.Seed(m.randomness(), m.claimID, 0), nil)
	if err != nil {
		return nil, err
	}
	return byAddr[string(c.Address)], nil
}

// act is what a validator of each kind reports.
func (m *model) act(v *validator, claimed, trueOut string, nondet bool, fake bool, avgMs int64, round int) report {
	real := avgMs * v.speed / 1000
	noise := func(x int64) uint64 { return uint64(x * (950 + m.rng.Int63n(101)) / 1000) }
	built := func() string {
		if nondet {
			return fmt.Sprintf("%s-variant-%d", trueOut, m.rng.Int63())
		}
		return trueOut
	}
	switch v.kind {
	case vHonest:
		v.builtMs += real
		v.wallMs += real
		return report{v: v, output: built(), ms: noise(real)}
	case vSlow:
		v.builtMs += real
		// Reports SlowPermille/1000 × its real time (3000: three times slower; below
		// 1000: under-reporting). It waits as long as it claims when it is slower.
		v.wallMs += real * max(m.cfg.SlowPermille, 1000) / 1000
		return report{v: v, output: built(), ms: noise(real * m.cfg.SlowPermille / 1000)}
	case vLazy:
		// Knows roughly how long the build takes (from public builds of
		// similar derivations) and reports that. The output: the claimed one when
		// it is public; under blind rounds a guess, which never matches a hash.
		if m.cfg.Open {
			return report{v: v, output: claimed, ms: noise(avgMs)}
		}
		return report{v: v, output: fmt.Sprintf("guess-by-%s-%d", v.key, round), ms: noise(avgMs)}
	default: // vLiar
		if fake {
			return report{v: v, output: claimed, ms: noise(avgMs)}
		}
		return report{v: v, output: fmt.Sprintf("fake-by-%s-%d", v.key, round), ms: noise(avgMs)}
	}
}

type claimEnd int

const (
	endValid claimEnd = iota
	endMisbehaviour
	// endExpired: an undecided market (no quorum, or a tie) leaves the claim unverified
	// (x/claims OutcomeInconclusive → EXPIRED): deposit back, nobody slashed, no build time
	// credited (no VALID claim, no exposer).
	endExpired
)

// runMarket plays one market with commit–reveal through tally.CommitHash
// and resolves it with tally.Resolve. truth is what really happened; lie is
// what the liars' allies push.
// party is the honest side of the dispute (the accused honest publisher or
// the honest dissenting validator, who rebuilt and knows the truth): it
// defends itself by staking on the truth.
func (m *model) runMarket(truth, lie tally.Outcome, party string) (tally.Result, error) {
	type entry struct {
		acc    *account
		o      tally.Outcome
		salt   []byte
		commit []byte
		reveal bool
	}
	var entries []entry
	add := func(acc *account, o tally.Outcome, reveal bool) error {
		salt := make([]byte, 16)
		m.rng.Read(salt)
		h, err := tally.CommitHash(o, salt, []byte(acc.key))
		if err != nil {
			return err
		}
		entries = append(entries, entry{acc: acc, o: o, salt: salt, commit: h, reveal: reveal})
		return nil
	}
	for _, tr := range m.traders {
		if m.rng.Float64() >= m.cfg.TraderJoin {
			continue
		}
		o := truth
		if m.rng.Float64() >= m.cfg.TraderRight {
			o = tally.Outcome(1 + (int(truth)+m.rng.Intn(2))%3) // one of the two wrong outcomes
		}
		if err := add(tr, o, m.rng.Float64() < m.cfg.TraderReveal); err != nil {
			return tally.Result{}, err
		}
	}
	if party != "" {
		acc := m.parties[party]
		if acc == nil {
			acc = &account{key: "party-" + party, staked: math.ZeroInt(), paid: math.ZeroInt(), lost: math.ZeroInt()}
			m.parties[party] = acc
		}
		if err := add(acc, truth, true); err != nil {
			return tally.Result{}, err
		}
	}
	if lie != tally.Unspecified {
		for _, al := range m.allies {
			if err := add(al, lie, true); err != nil {
				return tally.Result{}, err
			}
		}
	}
	preds := make([]tally.Prediction, len(entries))
	for i, e := range entries {
		stake := m.cfg.TraderStake
		switch {
		case e.acc.key[:4] == "ally":
			stake = m.cfg.AllyStake
		case e.acc.key[:5] == "party":
			stake = m.cfg.PartyStake
		}
		preds[i] = tally.Prediction{Key: e.acc.key, Stake: stake}
		if e.reveal {
			// The reveal is checked against the commit as the chain does.
			h, err := tally.CommitHash(e.o, e.salt, []byte(e.acc.key))
			if err != nil || string(h) != string(e.commit) {
				return tally.Result{}, errors.New("reveal does not match commit")
			}
			preds[i].Revealed, preds[i].Outcome = true, e.o
		}
	}
	res, err := tally.Resolve(preds, m.cfg.Quorum, m.cfg.MarketFee)
	if err != nil {
		return res, err
	}
	for i, e := range entries {
		e.acc.staked = e.acc.staked.Add(preds[i].Stake)
		e.acc.paid = e.acc.paid.Add(res.Payouts[i])
		if res.Payouts[i].LT(preds[i].Stake) {
			e.acc.lost = e.acc.lost.Add(preds[i].Stake.Sub(res.Payouts[i]))
		}
	}
	m.devFund = m.devFund.Add(res.Fee)
	m.burn(res.Burned)
	m.markets.markets++
	m.markets.byTruth[truth]++
	if !res.Decided {
		m.markets.undecided++
	} else if res.Outcome != truth {
		m.markets.wrong++
	}
	return res, nil
}

func (m *model) burn(x math.Int) {
	m.burned = m.burned.Add(x)
	m.supply = m.supply.Sub(x)
}

// slashValidators slashes the named validators and pays exposers.
func (m *model) slash(liars []*validator, publisher *publisher, exposers []*validator) error {
	total := math.ZeroInt()
	for _, v := range liars {
		amt, err := economics.SlashAmount(v.bond, m.cfg.SlashFraction)
		if err != nil {
			return err
		}
		v.bond = v.bond.Sub(amt)
		v.lost = v.lost.Add(amt)
		total = total.Add(amt)
	}
	if publisher != nil {
		publisher.depositsLost = publisher.depositsLost.Add(m.cfg.Deposit)
		total = total.Add(m.cfg.Deposit)
	}
	split, err := economics.SplitSlash(total, len(exposers))
	if err != nil {
		return err
	}
	for i, e := range exposers {
		e.exposed = e.exposed.Add(split.Exposers[i])
	}
	m.burn(split.Burned)
	return nil
}

// playClaim runs one claim to its end.
func (m *model) playClaim(pub *publisher) error {
	m.claimID++
	id := m.claimID
	avgMs := 2000 + m.rng.Int63n(118001)
	trueOut := fmt.Sprintf("out-%d", id)
	nondet, fake := pub.kind == pNondet, pub.kind == pLiar
	claimed := trueOut
	if nondet {
		claimed = trueOut + "-variant-publisher"
	}
	if fake {
		claimed = fmt.Sprintf("fake-out-%d", id)
	}
	pub.claims++
	pub.feesPaid = pub.feesPaid.Add(m.cfg.ClaimFee)
	m.devFund = m.devFund.Add(m.cfg.ClaimFee) // the model sends claim fees to the dev fund

	var reports []report
	used := map[string]bool{}
	reachedMarket, slashedLiars := false, map[string]bool{}
	end := endValid
	forced := false
	for round := uint32(1); ; round++ {
		v, err := m.pick(used)
		if errors.Is(err, assign.ErrNoCandidate) {
			break // nobody left: the claim ends with what it has
		}
		if err != nil {
			return err
		}
		used[v.key] = true
		pub.builds++
		v.assignments++
		v.assignedMs += avgMs
		r := m.act(v, claimed, trueOut, nondet, fake, avgMs, int(round))
		reports = append(reports, r)

		agreeing := func() []*validator {
			var out []*validator
			for _, x := range reports {
				if x.output == claimed && !slashedLiars[x.v.key] {
					out = append(out, x.v)
				}
			}
			return out
		}
		cont := false
		if r.output == claimed {
			d, err := game.AfterAgreement(m.cfg.Rules, round, game.ContinueSeed(m.randomness(), id, round))
			if err != nil {
				return err
			}
			cont = d == game.Continue || (forced && round < m.cfg.Rules.MaxRounds)
			forced = false
		} else {
			reachedMarket = true
			// What really happened, and what the liars' side pushes.
			truth, lie, party := tally.NonDeterminism, tally.Unspecified, pub.key
			switch {
			case fake:
				truth, lie, party = tally.MisbehaviourClaim, tally.NonDeterminism, v.key
			case v.kind == vLiar || v.kind == vLazy:
				// A lazy builder's dissent is a guess: a lie about a build it never ran.
				truth, lie = tally.MisbehaviourReport, tally.MisbehaviourClaim
			}
			res, err := m.runMarket(truth, lie, party)
			if err != nil {
				return err
			}
			switch res.Outcome {
			case tally.MisbehaviourClaim:
				liars := agreeing()
				if truth != tally.MisbehaviourClaim {
					m.wrongSlash += len(liars) + 1
				}
				if err := m.slash(liars, pub, []*validator{v}); err != nil {
					return err
				}
				for _, l := range liars {
					slashedLiars[l.key] = true
				}
				pub.misb++
				end = endMisbehaviour
			case tally.MisbehaviourReport:
				if truth != tally.MisbehaviourReport {
					m.wrongSlash++
				}
				if err := m.slash([]*validator{v}, nil, agreeing()); err != nil {
					return err
				}
				slashedLiars[v.key] = true
				cont = round < m.cfg.Rules.MaxRounds // the void round is replayed
			default:
				// NON_DETERMINISM counts as agreement (x/claims
				// OutcomeNonDeterminism: p_continue decides). An undecided
				// market (no quorum or a tie) is x/claims'
				// OutcomeInconclusive: the claim ends EXPIRED, unverified.
				// With ForceAfterMarket every decided market forces a round
				// (the stricter variant measured in TestForceRoundAfterMarket).
				if !res.Decided {
					end = endExpired
				} else if m.cfg.ForceAfterMarket {
					cont = round < m.cfg.Rules.MaxRounds
					forced = true
				} else {
					d, err := game.AfterAgreement(m.cfg.Rules, round, game.ContinueSeed(m.randomness(), id, round))
					if err != nil {
						return err
					}
					cont = d == game.Continue
				}
			}
		}
		if end != endValid || !cont {
			break
		}
	}
	if end == endValid {
		pub.valid++
	}
	if m.cfg.DecoyPermille > 0 && m.rng.Int63n(1000) < m.cfg.DecoyPermille {
		if err := m.decoy(pub); err != nil {
			return err
		}
	}

	// Rewardable time: every validator of the claim who was not named a
	// liar adds u_a over their reports; an EXPIRED claim credits nobody.
	var ms []uint64
	var effs []math.LegacyDec
	var who []*validator
	for _, r := range reports {
		if slashedLiars[r.v.key] || end == endExpired {
			continue
		}
		ms = append(ms, r.ms)
		effs = append(effs, r.v.eff)
		who = append(who, r.v)
	}
	if len(ms) > 0 {
		bt, err := economics.NormalizedAverageBuildTime(ms, effs)
		if m.cfg.RawAverage {
			bt, err = economics.AverageBuildTime(ms)
		}
		if err != nil {
			return err
		}
		for i, v := range who {
			v.rewardable = v.rewardable.Add(bt.Average)
			alpha := economics.DefaultEfficiencyWeight
			if m.cfg.FastLearning {
				alpha = economics.EfficiencyWeight(v.samples)
			}
			if len(who) > 1 {
				v.samples++
			}
			if v.eff, err = economics.UpdateEfficiency(v.eff, bt.Ratios[i], alpha); err != nil {
				return err
			}
		}
	}

	// Bookkeeping of lies.
	if fake || hasLiarDissent(reports, claimed) {
		var liars []string
		if fake {
			liars = append(liars, pub.key)
			for _, r := range reports {
				if r.output == claimed {
					liars = append(liars, r.v.key)
				}
			}
		}
		for _, r := range reports {
			// A lazy guess against a fake claim is a dissent the market rightly upholds (the
			// claim was fake): markets judge outputs, not whether a build ran.
			if (r.v.kind == vLiar || (r.v.kind == vLazy && !fake)) && r.output != claimed {
				liars = append(liars, r.v.key)
			}
		}
		if fake {
			switch {
			case !reachedMarket:
				pub.liesUndetected++
			case end == endMisbehaviour:
				pub.liesToMarket++
				pub.liesSlashed++
			default:
				pub.liesToMarket++
			}
		}
		if reachedMarket {
			for _, l := range liars {
				slashed := slashedLiars[l] || (l == pub.key && end == endMisbehaviour)
				if !slashed {
					m.liarsMissed = append(m.liarsMissed, fmt.Sprintf("claim %d: %s", id, l))
				}
			}
		}
	}
	return nil
}

// decoy plays one decoy assignment (config.DecoyPermille): the chain knows the right output and
// its build time, so a wrong answer is slashed at once and a right one paid as a build.
func (m *model) decoy(pub *publisher) error {
	v, err := m.pick(map[string]bool{})
	if err != nil {
		return err
	}
	avgMs := 2000 + m.rng.Int63n(118001)
	known := fmt.Sprintf("decoy-out-%d", m.claimID)
	m.decoys++
	pub.builds++ // its cost counts in the builds per claim
	v.assignments++
	v.assignedMs += avgMs
	if r := m.act(v, known, known, false, false, avgMs, 0); r.output != known {
		m.decoysCaught++
		return m.slash([]*validator{v}, nil, nil)
	}
	v.rewardable = v.rewardable.Add(math.LegacyNewDec(avgMs))
	return nil
}

func hasLiarDissent(reports []report, claimed string) bool {
	for _, r := range reports {
		if (r.v.kind == vLiar || r.v.kind == vLazy) && r.output != claimed {
			return true
		}
	}
	return false
}

// endPeriod mints and pays the period's rewards.
func (m *model) endPeriod() error {
	mint, err := economics.MintAmount(m.supply, m.cfg.InflationRate, m.cfg.PeriodBlocks, m.cfg.BlocksPerYear)
	if err != nil {
		return err
	}
	m.minted = m.minted.Add(mint)
	m.supply = m.supply.Add(mint)
	dev, pool, err := economics.SplitDevFund(mint, m.cfg.DevFundShare)
	if err != nil {
		return err
	}
	m.devFund = m.devFund.Add(dev)
	pool = pool.Add(m.carry)
	var shares []economics.Share
	var who []*validator
	sorted := append([]*validator(nil), m.vals...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].key < sorted[j].key })
	for _, v := range sorted {
		if v.rewardable.IsPositive() {
			shares = append(shares, economics.Share{Key: v.key, Weight: v.rewardable})
			who = append(who, v)
		}
	}
	pay, err := economics.DistributeProRata(pool, shares)
	if errors.Is(err, economics.ErrZeroWeight) {
		m.carry = pool
		return nil
	}
	if err != nil {
		return err
	}
	m.carry = math.ZeroInt()
	for i, v := range who {
		v.rewards = v.rewards.Add(pay[i])
		v.rewardable = math.LegacyZeroDec()
	}
	return nil
}

func (m *model) run() error {
	// Publishers take turns at random.
	for i := 0; i < m.cfg.Claims; i++ {
		pub := m.pubs[m.rng.Intn(len(m.pubs))]
		if err := m.playClaim(pub); err != nil {
			return fmt.Errorf("claim %d: %w", i+1, err)
		}
		if (i+1)%m.cfg.ClaimsPerPeriod == 0 {
			if err := m.endPeriod(); err != nil {
				return fmt.Errorf("period end after claim %d: %w", i+1, err)
			}
		}
	}
	return nil
}
