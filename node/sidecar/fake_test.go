package sidecar

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	dto "github.com/prometheus/client_model/go"

	"github.com/buildchain/buildchain/node/chain"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

// Test doubles: a claims module that plays blind rounds (commit, then reveal), markets, and a builder that can be held
// mid-build; the in-memory chain of heights is node/chain/chaintest's Blocks. The real
// CometBFT and x/claims are exercised in tests/e2e.

func testCID(s string) cid.Cid {
	h, _ := mh.Sum([]byte(s), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

func assignEvent(claim uint64, round uint32, validator string, drv cid.Cid) abci.Event {
	return abci.Event{Type: "test.assigned", Attributes: []abci.EventAttribute{
		{Key: "claim", Value: strconv.FormatUint(claim, 10)},
		{Key: "round", Value: strconv.FormatUint(uint64(round), 10)},
		{Key: "validator", Value: validator},
		{Key: "drv", Value: drv.String()},
	}}
}

func timeoutEvent(claim uint64, round uint32) abci.Event {
	return abci.Event{Type: "test.timeout", Attributes: []abci.EventAttribute{
		{Key: "claim", Value: strconv.FormatUint(claim, 10)},
		{Key: "round", Value: strconv.FormatUint(uint64(round), 10)},
	}}
}

type report struct {
	key chain.RoundKey
	out cid.Cid
	ms  uint64
}

type memClaims struct {
	me string
	mu sync.Mutex
	// rounds open for us (assigned, not committed).
	open map[chain.RoundKey]bool
	// failAfterLanding makes the next Commit land on chain and then return an error, as a
	// broadcast whose response was lost.
	failAfterLanding bool
	// revealOnCommit: each commit is its claim's last, so the claim's reveals open with it
	// (x/claims does so when game.AfterCommit says Reveal); without it, openReveals opens them.
	revealOnCommit bool
	// Commitments, claims whose reveals opened, reveals, and every Commit and RevealBuild
	// sent (a second one for a round is refused, as by x/claims, and counted so tests see it).
	commits   map[chain.RoundKey][]byte
	revealing map[uint64]bool
	revealed  map[chain.RoundKey]report
	commitTxs int
	revealTxs int
}

func newMemClaims(me string) *memClaims {
	return &memClaims{me: me, open: map[chain.RoundKey]bool{}, revealOnCommit: true,
		commits: map[chain.RoundKey][]byte{}, revealing: map[uint64]bool{}, revealed: map[chain.RoundKey]report{}}
}

func (m *memClaims) Commit(_ context.Context, claim uint64, round uint32, commitment []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := chain.RoundKey{ClaimID: claim, Round: round}
	m.commitTxs++
	if _, ok := m.commits[k]; ok {
		return "", errors.New("already committed") // x/claims: ErrAlreadyReported
	}
	if !m.open[k] {
		return "", errors.New("round not open for a commit")
	}
	m.commits[k] = commitment
	delete(m.open, k)
	if m.revealOnCommit {
		m.revealing[claim] = true
	}
	if m.failAfterLanding {
		m.failAfterLanding = false
		return "", errors.New("broadcast: connection reset (but the tx landed)")
	}
	return fmt.Sprintf("COMMIT%d", m.commitTxs), nil
}

func (m *memClaims) RevealBuild(_ context.Context, claim uint64, round uint32, out cid.Cid, ms uint64, salt []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := chain.RoundKey{ClaimID: claim, Round: round}
	m.revealTxs++
	if _, ok := m.revealed[k]; ok {
		return "", errors.New("already revealed")
	}
	if !m.revealing[claim] {
		return "", errors.New("reveal too early")
	}
	if !bytes.Equal(m.commits[k], claimstypes.BuildCommitment(m.me, claim, round, out.String(), ms, salt)) {
		return "", errors.New("reveal does not match the commitment") // x/claims: ErrRevealMismatch
	}
	m.revealed[k] = report{k, out, ms}
	return fmt.Sprintf("REVEAL%d", m.revealTxs), nil
}

// openReveals opens the reveal phase of a blind claim.
func (m *memClaims) openReveals(claim uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revealing[claim] = true
}

func (m *memClaims) Validator() string { return m.me }

func attr(e abci.Event, k string) string {
	for _, a := range e.Attributes {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

func (m *memClaims) Decode(evs []abci.Event) ([]chain.Assignment, []chain.RoundKey, error) {
	var as []chain.Assignment
	var ended []chain.RoundKey
	for _, e := range evs {
		claim, _ := strconv.ParseUint(attr(e, "claim"), 10, 64)
		round, _ := strconv.ParseUint(attr(e, "round"), 10, 32)
		switch e.Type {
		case "test.assigned":
			drv, err := cid.Decode(attr(e, "drv"))
			if err != nil {
				return nil, nil, err
			}
			a := chain.Assignment{ClaimID: claim, Round: uint32(round), Validator: attr(e, "validator"), Derivation: drv}
			as = append(as, a)
			if a.Validator == m.me {
				m.mu.Lock()
				m.open[chain.RoundKey{ClaimID: claim, Round: uint32(round)}] = true
				m.mu.Unlock()
			}
		case "test.timeout":
			k := chain.RoundKey{ClaimID: claim, Round: uint32(round)}
			ended = append(ended, k)
			m.mu.Lock()
			delete(m.open, k)
			m.mu.Unlock()
		}
	}
	return as, ended, nil
}

func (m *memClaims) RoundState(_ context.Context, claim uint64, round uint32) (chain.RoundState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := chain.RoundKey{ClaimID: claim, Round: round}
	_, revealed := m.revealed[k]
	_, committed := m.commits[k]
	switch {
	case revealed:
		return chain.RoundReported, nil
	case committed && m.revealing[claim]:
		return chain.RoundRevealable, nil
	case committed:
		return chain.RoundCommitted, nil
	case m.open[k]:
		return chain.RoundOpen, nil
	}
	return chain.RoundGone, nil
}

// sent counts the commits and the reveals sent, landed or refused.
func (m *memClaims) sent() (commits, reveals int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commitTxs, m.revealTxs
}

type gateBuilder struct {
	mu      sync.Mutex
	started chan cid.Cid
	gate    chan struct{} // nil: no waiting
	builds  int
	active  int
	maxSeen int
}

func (g *gateBuilder) Rebuild(ctx context.Context, drv cid.Cid) (cid.Cid, time.Duration, error) {
	g.mu.Lock()
	g.builds++
	g.active++
	if g.active > g.maxSeen {
		g.maxSeen = g.active
	}
	gate := g.gate
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.active--
		g.mu.Unlock()
	}()
	if g.started != nil {
		g.started <- drv
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return cid.Undef, 0, ctx.Err()
		}
	}
	return testCID("out-of-" + drv.String()), 42 * time.Millisecond, nil
}

type cidT = cid.Cid

func testutilValue(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

type memMarkets struct {
	mu      sync.Mutex
	drv     map[uint64]cid.Cid
	commits map[uint64]markettypes.Outcome
	salts   map[uint64][]byte
	reveals map[uint64]markettypes.Outcome
	// failAfterLanding makes Commit and Reveal take effect and then fail,
	// as a tx that timed out waiting for its block does.
	failAfterLanding bool
	sends            int
}

func newMemMarkets() *memMarkets {
	return &memMarkets{drv: map[uint64]cid.Cid{}, commits: map[uint64]markettypes.Outcome{}, salts: map[uint64][]byte{}, reveals: map[uint64]markettypes.Outcome{}}
}

func marketEvent(id, claim uint64, claimed, reported string, commitEnd, revealEnd int64) abci.Event {
	return abci.Event{Type: "test.market", Attributes: []abci.EventAttribute{
		{Key: "id", Value: strconv.FormatUint(id, 10)}, {Key: "claim", Value: strconv.FormatUint(claim, 10)},
		{Key: "claimed", Value: claimed}, {Key: "reported", Value: reported},
		{Key: "commit_end", Value: strconv.FormatInt(commitEnd, 10)}, {Key: "reveal_end", Value: strconv.FormatInt(revealEnd, 10)},
	}}
}

func (m *memMarkets) DecodeMarkets(evs []abci.Event) ([]chain.MarketOpened, error) {
	var out []chain.MarketOpened
	for _, e := range evs {
		if e.Type != "test.market" {
			continue
		}
		id, _ := strconv.ParseUint(attr(e, "id"), 10, 64)
		claim, _ := strconv.ParseUint(attr(e, "claim"), 10, 64)
		ce, _ := strconv.ParseInt(attr(e, "commit_end"), 10, 64)
		re, _ := strconv.ParseInt(attr(e, "reveal_end"), 10, 64)
		out = append(out, chain.MarketOpened{MarketID: id, ClaimID: claim, Claimed: attr(e, "claimed"), Reported: attr(e, "reported"), CommitEnd: ce, RevealEnd: re})
	}
	return out, nil
}

func (m *memMarkets) ClaimDerivation(_ context.Context, claim uint64) (cid.Cid, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.drv[claim]
	if !ok {
		return cid.Undef, errors.New("unknown claim")
	}
	return d, nil
}

func (m *memMarkets) Commit(_ context.Context, id uint64, o markettypes.Outcome, salt []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.commits[id]; dup {
		return "", errors.New("already committed")
	}
	m.commits[id], m.salts[id] = o, salt
	m.sends++
	if m.failAfterLanding {
		return "", errors.New("tx not included: context deadline exceeded")
	}
	return "C", nil
}

func (m *memMarkets) Reveal(_ context.Context, id uint64, o markettypes.Outcome, salt []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.commits[id]; !ok || c != o || string(m.salts[id]) != string(salt) {
		return "", errors.New("reveal does not match the commit")
	}
	if _, dup := m.reveals[id]; dup {
		return "", errors.New("already revealed")
	}
	m.reveals[id] = o
	m.sends++
	if m.failAfterLanding {
		return "", errors.New("tx not included: context deadline exceeded")
	}
	return "R", nil
}

func (m *memMarkets) revealed(id uint64) (markettypes.Outcome, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.reveals[id]
	return o, ok
}

func (m *memMarkets) OnChain(_ context.Context, id uint64) (chain.PredictionState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, c := m.commits[id]
	_, r := m.reveals[id]
	return chain.PredictionState{Committed: c, Revealed: r}, nil
}

func (m *memMarkets) sent() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sends
}
