package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	sdkmath "cosmossdk.io/math"
	cid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// marketEnv drives claims and markets on a real 4-authority localnet through the CLI, and
// reads state over REST. The test accounts act by hand as build validators (val1..val3),
// publisher (alice) and predictors (bob, carol).
type marketEnv struct {
	t     *testing.T
	net   *localnet.Net
	names map[string]string // address -> key name
	addr  map[string]string // key name -> address
}

type restClaim struct {
	ID          string                  `json:"id"`
	Status      string                  `json:"status"`
	Round       uint32                  `json:"round"`
	OutputCid   string                  `json:"output_cid"`
	Deposit     struct{ Amount string } `json:"deposit"`
	Assignments []struct {
		Round     uint32 `json:"round"`
		Validator string `json:"validator"`
		Status    string `json:"status"`
	} `json:"assignments"`
}

type restMarket struct {
	ID        string   `json:"id"`
	Status    string   `json:"status"`
	Outcome   string   `json:"outcome"`
	Decided   bool     `json:"decided"`
	Reason    string   `json:"reason"`
	CommitEnd string   `json:"commit_end"`
	RevealEnd string   `json:"reveal_end"`
	Dissenter string   `json:"dissenter"`
	Agreeing  []string `json:"agreeing"`
}

func testCID(t *testing.T, codec uint64, s string) string {
	sum, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	require.NoError(t, err)
	return cid.NewCidV1(codec, sum).String()
}

func (e *marketEnv) tx(args ...string) localnet.TxResponse {
	e.t.Helper()
	res := e.net.Tx(e.t, append(args, "--gas", "400000")...)
	require.Zero(e.t, res.Code, "tx %v: %s", args, res.RawLog)
	return res
}

// txs sends txs at once (localnet.TxsAtOnce: one or two blocks, not one each), each with the
// gas of tx, and requires every one to succeed.
func (e *marketEnv) txs(txs ...[]string) {
	e.t.Helper()
	for i := range txs {
		txs[i] = append(txs[i], "--gas", "400000")
	}
	for i, o := range e.net.TxsAtOnce(e.t, txs...) {
		require.NoError(e.t, o.CLI.Err, "tx %v: %s%s", txs[i], o.CLI.Stdout, o.CLI.Stderr)
		require.Zero(e.t, o.Res.Code, "tx %v: %s", txs[i], o.Res.RawLog)
	}
}

func (e *marketEnv) claimsOf(drv string) []restClaim {
	var out struct {
		Claims []restClaim `json:"claims"`
	}
	e.net.REST(e.t, 0, "/buildchain/claims/v1/derivations/"+drv+"/claims", &out)
	return out.Claims
}

func (e *marketEnv) claim(id string) restClaim {
	var out struct {
		Claim restClaim `json:"claim"`
	}
	e.net.REST(e.t, 0, "/buildchain/claims/v1/claims/"+id, &out)
	return out.Claim
}

func (e *marketEnv) submit(drv, out string) string {
	e.tx("claims", "submit", drv, out, "--deposit", "10000000ubct", "--system", "x86_64-linux", "--from", "alice")
	var id string
	eventually(e.t, 30*time.Second, "claim indexed", func() bool {
		cs := e.claimsOf(drv)
		if len(cs) == 1 {
			id = cs[0].ID
		}
		return id != ""
	})
	return id
}

// assigned waits until the claim has an assigned validator and returns its key name and round.
func (e *marketEnv) assigned(id string) (string, uint32) {
	var name string
	var round uint32
	eventually(e.t, 60*time.Second, "claim "+id+" assigned", func() bool {
		c := e.claim(id)
		if c.Status != "CLAIM_STATUS_ASSIGNED" {
			return false
		}
		for _, a := range c.Assignments {
			if a.Status == "ROUND_STATUS_ASSIGNED" {
				name, round = e.names[a.Validator], a.Round
			}
		}
		return name != ""
	})
	return name, round
}

// commit has who commit to out for its round of claim id (tx claims commit keeps the salt in
// the client home for tx claims reveal).
func (e *marketEnv) commit(id, who string, round uint32, out string) {
	e.tx("claims", "commit", id, strconv.FormatUint(uint64(round), 10), out, "4000", "--from", who)
}

// play drives claim id through its blind rounds (x/claims/README.md §Blind rounds) until it
// leaves them (DISPUTED, or decided): whoever is assigned commits to out; once the claim is
// REVEALING the publisher (alice) and every committed builder reveal.
func (e *marketEnv) play(id, out string) restClaim {
	for i := 0; i < 20; i++ {
		c := e.claim(id)
		switch c.Status {
		case "CLAIM_STATUS_PENDING":
		case "CLAIM_STATUS_ASSIGNED":
			who, round := e.assigned(id)
			e.commit(id, who, round, out)
		case "CLAIM_STATUS_REVEALING":
			var reveals [][]string
			if c.OutputCid == "" {
				reveals = append(reveals, []string{"claims", "reveal-claim", id, "--from", "alice"})
			}
			for _, a := range c.Assignments {
				if a.Status == "ROUND_STATUS_COMMITTED" {
					reveals = append(reveals, []string{"claims", "reveal", id, strconv.FormatUint(uint64(a.Round), 10), "--from", e.names[a.Validator]})
				}
			}
			e.txs(reveals...)
		default:
			return c
		}
		eventually(e.t, 60*time.Second, "claim "+id+" moves on from "+c.Status, func() bool {
			n := e.claim(id)
			return n.Status != c.Status || len(n.Assignments) != len(c.Assignments) || n.OutputCid != c.OutputCid
		})
	}
	e.t.Fatalf("claim %s still playing after 20 steps", id)
	return restClaim{}
}

func (e *marketEnv) market(claimID string) restMarket {
	var out struct {
		Markets []restMarket `json:"markets"`
	}
	eventually(e.t, 30*time.Second, "market of claim "+claimID, func() bool {
		e.net.REST(e.t, 0, "/buildchain/market/v1/claims/"+claimID+"/markets", &out)
		return len(out.Markets) > 0
	})
	return out.Markets[len(out.Markets)-1]
}

func (e *marketEnv) marketByID(id string) restMarket {
	var out struct {
		Market restMarket `json:"market"`
	}
	e.net.REST(e.t, 0, "/buildchain/market/v1/markets/"+id, &out)
	return out.Market
}

func (e *marketEnv) waitHeight(h string) {
	v, err := strconv.ParseInt(h, 10, 64)
	require.NoError(e.t, err)
	e.net.WaitHeight(e.t, 0, v, 90*time.Second)
}

// predict has bob and carol commit outcome (60 BCT each, quorum is 100), reveal after
// commit_end, and waits for the resolution.
func (e *marketEnv) predict(m restMarket, outcome string) restMarket {
	e.txs([]string{"market", "commit", m.ID, outcome, "60000000ubct", "--from", "bob"},
		[]string{"market", "commit", m.ID, outcome, "60000000ubct", "--from", "carol"})
	e.waitHeight(strings.TrimSpace(fmt.Sprint(mustAtoi(e.t, m.CommitEnd) + 1)))
	e.txs([]string{"market", "reveal", m.ID, "--from", "bob"}, []string{"market", "reveal", m.ID, "--from", "carol"})
	e.waitHeight(fmt.Sprint(mustAtoi(e.t, m.RevealEnd) + 1))
	var res restMarket
	eventually(e.t, 30*time.Second, "market resolved", func() bool {
		res = e.marketByID(m.ID)
		return res.Status == "MARKET_STATUS_RESOLVED"
	})
	return res
}

func mustAtoi(t *testing.T, s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return v
}

func (e *marketEnv) bond(name string) sdkmath.Int {
	var out struct {
		Validator struct {
			Bond struct{ Amount string } `json:"bond"`
		} `json:"validator"`
	}
	e.net.REST(e.t, 0, "/buildchain/validators/v1/validators/"+e.addr[name], &out)
	v, ok := sdkmath.NewIntFromString(out.Validator.Bond.Amount)
	require.True(e.t, ok, "bond of %s: %q", name, out.Validator.Bond.Amount)
	return v
}

func (e *marketEnv) balance(name string) sdkmath.Int { return balanceREST(e.t, e.net, 0, e.addr[name]) }

// TestMarketOnLocalnet: on a 4-authority localnet, three build validators and a publisher
// play three claims through x/claims and x/market with the CLI:
//   - a fake output: the rebuild differs, the market says MISBEHAVIOUR_CLAIM, the claim is
//     rejected and the publisher's deposit is slashed (half to the rebuilder, half burned);
//   - a lying validator: its forged result is judged MISBEHAVIOUR_REPORT and its bond slashed;
//     the claim then goes on and ends VALID;
//   - a nondeterministic build: the market says NON_DETERMINISM and the claim ends VALID.
//
// Balances and bonds are read over REST. A reveal that does not match its commit is refused.
func TestMarketOnLocalnet(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a network")
	}
	net := localnet.Start(t, localnet.Options{Nodes: 4})
	e := &marketEnv{t: t, net: net, names: map[string]string{}, addr: map[string]string{}}
	for _, n := range []string{"val1", "val2", "val3", "alice", "bob", "carol"} {
		a := net.Addr(t, n)
		e.names[a], e.addr[n] = n, a
	}
	var regs [][]string
	for _, v := range []string{"val1", "val2", "val3"} {
		regs = append(regs, []string{"validators", "register", "1000000000ubct", "x86_64-linux", "--from", v})
	}
	e.txs(regs...)
	var params struct {
		Params struct {
			ClaimFee struct{ Amount string } `json:"claim_fee"`
		} `json:"params"`
	}
	net.REST(t, 0, "/buildchain/claims/v1/params", &params)
	fee, ok := sdkmath.NewIntFromString(params.Params.ClaimFee.Amount)
	require.True(t, ok)
	deposit := sdkmath.NewInt(10_000_000)

	t.Run("fake output is MISBEHAVIOUR_CLAIM and the deposit is slashed", func(t *testing.T) {
		e.t = t
		drv := testCID(t, cid.DagJSON, `{"name":"fake"}`)
		fake, real := testCID(t, cid.DagProtobuf, "malware"), testCID(t, cid.DagProtobuf, "real build")
		alice0 := e.balance("alice")
		id := e.submit(drv, fake)
		who, round := e.assigned(id)
		who0 := e.balance(who)
		// Round 1 rebuilds and finds the real output; so do the others, and the reveals
		// send the first dissent to a market.
		e.commit(id, who, round, real)
		require.Equal(t, "CLAIM_STATUS_DISPUTED", e.play(id, real).Status)
		m := e.market(id)
		require.Equal(t, e.addr[who], m.Dissenter)

		// A reveal that does not match its commit is refused and moves nothing.
		e.txs([]string{"market", "commit", m.ID, "claim", "60000000ubct", "--from", "bob"},
			[]string{"market", "commit", m.ID, "claim", "60000000ubct", "--from", "carol"})
		// A second commit from the same account: the CLI refuses before broadcasting (its
		// salt file exists), and nothing moves.
		bob0 := e.balance("bob")
		_, r := net.BroadcastTx("market", "commit", m.ID, "nd", "60000000ubct", "--from", "bob")
		require.Error(t, r.Err)
		require.Contains(t, r.Stderr+r.Stdout, "already exists")
		e.waitHeight(fmt.Sprint(mustAtoi(t, m.CommitEnd) + 1))
		// A late commit is refused by the chain with a clear error and moves nothing.
		alice1 := e.balance("alice")
		res, r := net.BroadcastTx("market", "commit", m.ID, "nd", "60000000ubct", "--from", "alice")
		require.NoError(t, r.Err, r.Stderr)
		if res.Code == 0 {
			res = net.WaitTx(t, res.TxHash, 30*time.Second)
		}
		require.NotZero(t, res.Code)
		require.Contains(t, res.RawLog, "commit phase is over")
		require.Equal(t, alice1, e.balance("alice"))
		require.Equal(t, bob0, e.balance("bob"))
		res, r = net.BroadcastTx("market", "reveal", m.ID, "--outcome", "nd", "--from", "bob", "-b", "sync")
		require.NoError(t, r.Err, r.Stderr)
		if res.Code == 0 {
			res = net.WaitTx(t, res.TxHash, 30*time.Second)
		}
		require.NotZero(t, res.Code)
		require.Contains(t, res.RawLog, "does not match the commit")
		e.txs([]string{"market", "reveal", m.ID, "--from", "bob"}, []string{"market", "reveal", m.ID, "--from", "carol"})
		require.True(t, e.balance("bob").LTE(bob0), "a refused reveal pays nothing")
		e.waitHeight(fmt.Sprint(mustAtoi(t, m.RevealEnd) + 1))
		var done restMarket
		eventually(t, 30*time.Second, "market resolved", func() bool {
			done = e.marketByID(m.ID)
			return done.Status == "MARKET_STATUS_RESOLVED"
		})
		require.Equal(t, "OUTCOME_MISBEHAVIOUR_CLAIM", done.Outcome)
		require.Equal(t, "CLAIM_STATUS_REJECTED", e.claim(id).Status)
		// Alice paid the claim fee and lost the whole deposit; the rebuilder got half of it
		// (the localnet charges no gas fees, so balances move by exactly these amounts).
		require.Equal(t, alice0.Sub(fee).Sub(deposit), e.balance("alice"))
		require.Equal(t, who0.Add(deposit.QuoRaw(2)), e.balance(who))
	})

	t.Run("lying validator is MISBEHAVIOUR_REPORT and slashed", func(t *testing.T) {
		e.t = t
		drv := testCID(t, cid.DagJSON, `{"name":"honest"}`)
		out := testCID(t, cid.DagProtobuf, "honest build")
		id := e.submit(drv, out)
		liar, round := e.assigned(id)
		bond0 := e.bond(liar)
		e.commit(id, liar, round, testCID(t, cid.DagProtobuf, "forged"))
		require.Equal(t, "CLAIM_STATUS_DISPUTED", e.play(id, out).Status)
		m := e.predict(e.market(id), "report")
		require.Equal(t, "OUTCOME_MISBEHAVIOUR_REPORT", m.Outcome)
		require.Equal(t, bond0.Sub(bond0.QuoRaw(10)), e.bond(liar), "10 %% of the liar's bond is slashed")
		c := e.play(id, out)
		require.Equal(t, "CLAIM_STATUS_VALID", c.Status)
	})

	t.Run("nondeterministic output is NON_DETERMINISM and the claim ends VALID", func(t *testing.T) {
		e.t = t
		drv := testCID(t, cid.DagJSON, `{"name":"timestamped"}`)
		out := testCID(t, cid.DagProtobuf, "build at 12:00")
		alice0 := e.balance("alice")
		id := e.submit(drv, out)
		who, round := e.assigned(id)
		bond0 := e.bond(who)
		e.commit(id, who, round, testCID(t, cid.DagProtobuf, "build at 12:01"))
		require.Equal(t, "CLAIM_STATUS_DISPUTED", e.play(id, out).Status)
		m := e.predict(e.market(id), "nd")
		require.Equal(t, "OUTCOME_NON_DETERMINISM", m.Outcome)
		require.True(t, m.Decided)
		require.Equal(t, bond0, e.bond(who), "nobody is slashed")
		c := e.play(id, out)
		require.Equal(t, "CLAIM_STATUS_VALID", c.Status)
		// The deposit came back: alice is down only the claim fee (the localnet charges no gas fees).
		require.Equal(t, alice0.Sub(fee), e.balance("alice"))
	})

	// Supply accounting over REST: buildchain's burns are booked by x/bct.
	var sup struct {
		Totals struct {
			Burned string `json:"burned"`
		} `json:"totals"`
	}
	net.REST(t, 0, "/buildchain/bct/v1/supply", &sup)
	burned, ok := sdkmath.NewIntFromString(sup.Totals.Burned)
	require.True(t, ok)
	require.True(t, burned.GTE(deposit.QuoRaw(2)), "burned %s", burned)
}
