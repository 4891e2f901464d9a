package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/testutil/localnet"
)

func claimTestCID(codec uint64, s string) string {
	sum, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(codec, sum).String()
}

// claimView is the REST view of a claim (proto JSON).
type claimView struct {
	ID            string `json:"id"`
	Publisher     string `json:"publisher"`
	DerivationCid string `json:"derivation_cid"`
	OutputCid     string `json:"output_cid"`
	Status        string `json:"status"`
	Round         int    `json:"round"`
	DepositLocked bool   `json:"deposit_locked"`
	Assignments   []struct {
		Round          int    `json:"round"`
		Validator      string `json:"validator"`
		Status         string `json:"status"`
		DeadlineHeight string `json:"deadline_height"`
		OutputCid      string `json:"output_cid"`
	} `json:"assignments"`
}

func getClaimREST(t *testing.T, net *localnet.Net, node int, id uint64) claimView {
	t.Helper()
	var out struct {
		Claim claimView `json:"claim"`
	}
	net.REST(t, node, fmt.Sprintf("/buildchain/claims/v1/claims/%d", id), &out)
	return out.Claim
}

// open returns the index of the assignment awaiting a report, or -1.
func (c claimView) open() int {
	for i, a := range c.Assignments {
		if a.Status == "ROUND_STATUS_ASSIGNED" {
			return i
		}
	}
	return -1
}

func waitClaimREST(t *testing.T, net *localnet.Net, id uint64, what string, ok func(claimView) bool) claimView {
	t.Helper()
	return waitClaimRESTFor(t, net, id, 60*time.Second, what, ok)
}

func waitClaimRESTFor(t *testing.T, net *localnet.Net, id uint64, timeout time.Duration, what string, ok func(claimView) bool) claimView {
	t.Helper()
	var c claimView
	eventually(t, timeout, fmt.Sprintf("claim %d: %s", id, what), func() bool {
		var out struct {
			Claim claimView `json:"claim"`
		}
		if err := net.RESTErr(0, fmt.Sprintf("/buildchain/claims/v1/claims/%d", id), &out); err != nil {
			return false
		}
		c = out.Claim
		return ok(c)
	})
	return c
}

func buildValidatorStatus(t *testing.T, net *localnet.Net, addr string) string {
	t.Helper()
	var out struct {
		Validator struct {
			Status string `json:"status"`
		} `json:"validator"`
	}
	net.REST(t, 0, "/buildchain/validators/v1/validators/"+addr, &out)
	return out.Validator.Status
}

// txErr runs a tx that must fail (in the CLI, CheckTx or the block) and returns its message.
func claimsTxErr(t *testing.T, net *localnet.Net, args ...string) string {
	t.Helper()
	res, r := net.BroadcastTx(args...)
	if r.Err != nil {
		return r.Stdout + r.Stderr + r.Err.Error()
	}
	if res.Code == 0 {
		res = net.WaitTx(t, res.TxHash, 30*time.Second)
	}
	require.NotZero(t, res.Code, "tx %v should have failed", args)
	return res.RawLog
}

func claimsMustTx(t *testing.T, net *localnet.Net, args ...string) localnet.TxResponse {
	t.Helper()
	res := net.Tx(t, args...)
	require.Zero(t, res.Code, "tx %v: %s", args, res.RawLog)
	return res
}

// claimsGovParams changes validators and claims params through one gov proposal
// (localnet.PassProposal: expedited, every authority's vote broadcast at once).
func claimsGovParams(t *testing.T, net *localnet.Net, valChanges, claimChanges map[string]any) {
	t.Helper()
	net.PassProposal(t, "e2e: fast claims game",
		net.ParamsUpdateMsg(t, "validators", valChanges), net.ParamsUpdateMsg(t, "claims", claimChanges))
	var p struct {
		Params map[string]any `json:"params"`
	}
	net.REST(t, 0, "/buildchain/claims/v1/params", &p)
	for k, v := range claimChanges {
		require.Equal(t, fmt.Sprint(v), fmt.Sprint(p.Params[k]), "claims param %s after the proposal passed", k)
	}
}

// TestClaimsGameOnLocalnet is the end-to-end test on the 4-authority localnet with
// the CLI: two build validators register, claims go PENDING → ASSIGNED → VALID / DISPUTED, a
// validator that never reports is jailed and its round reassigned, every state seen over REST;
// the VRF beacon runs (all four authorities' keys registered, blocks carry verified proofs);
// bad input is refused with a clear error and changes nothing.
func TestClaimsGameOnLocalnet(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a network")
	}
	net := localnet.Start(t, localnet.Options{Nodes: 4})
	names := map[string]string{}
	for _, n := range []string{"alice", "bob", "carol"} {
		names[net.Addr(t, n)] = n
	}
	alice, bob, carol := net.Addr(t, "alice"), net.Addr(t, "bob"), net.Addr(t, "carol")

	claimsGovParams(t, net,
		map[string]any{"max_missed_assignments": "1"},
		// min_rounds 1: with two build validators, one of them jailed in step 4, a claim can
		// only ever have one round with the other. 60 blocks to report: the bad commits of
		// step 3 go before the assignee's commit, and at a load of 24 on 2 cores they took
		// more than 30 blocks (each a buildchaind run of several seconds).
		map[string]any{"report_timeout_blocks": "60", "min_rounds": 1})

	// Two build validators.
	for _, o := range net.TxsAtOnce(t,
		[]string{"validators", "register", "1000000000ubct", "x86_64-linux", "--from", "alice"},
		[]string{"validators", "register", "1500000000ubct", "x86_64-linux", "aarch64-linux", "--from", "bob"}) {
		require.NoError(t, o.CLI.Err, o.CLI.Stderr)
		require.Zero(t, o.Res.Code, o.Res.RawLog)
	}
	var vals struct {
		Validators []struct {
			Operator string   `json:"operator"`
			Systems  []string `json:"systems"`
			Status   string   `json:"status"`
		} `json:"validators"`
	}
	net.REST(t, 0, "/buildchain/validators/v1/systems/x86_64-linux/validators", &vals)
	require.Len(t, vals.Validators, 2)
	require.Equal(t, "VALIDATOR_STATUS_ACTIVE", buildValidatorStatus(t, net, alice))

	// The VRF beacon: every authority self-registered its key through its first proposal; once
	// active, blocks carry proofs (from_vrf) and the randomness is queryable by height.
	eventually(t, 90*time.Second, "four VRF keys and a VRF-derived block randomness", func() bool {
		var keys struct {
			VrfKeys []struct {
				PublicKey string `json:"public_key"`
			} `json:"vrf_keys"`
		}
		var r struct {
			Randomness struct {
				Height  string `json:"height"`
				FromVrf bool   `json:"from_vrf"`
				Proof   string `json:"proof"`
			} `json:"randomness"`
		}
		if net.RESTErr(0, "/buildchain/validators/v1/vrf_keys", &keys) != nil || net.RESTErr(0, "/buildchain/validators/v1/randomness/0", &r) != nil {
			return false
		}
		return len(keys.VrfKeys) == 4 && r.Randomness.FromVrf && r.Randomness.Proof != ""
	})

	// The node's key file is what the chain registered; an authority may (re)register it with
	// the CLI, an account that is not an authority may not.
	key1 := strings.TrimSpace(net.MustCLI(t, "vrf", "show", "--home", net.Home(1)))
	require.NotEqual(t, strings.TrimSpace(net.MustCLI(t, "vrf", "show")), key1, "node1's key, not node0's")
	var keys struct {
		VrfKeys []struct {
			PublicKey string `json:"public_key"`
			Operator  string `json:"operator"`
		} `json:"vrf_keys"`
	}
	net.REST(t, 0, "/buildchain/validators/v1/vrf_keys", &keys)
	found := false
	for _, k := range keys.VrfKeys {
		found = found || k.PublicKey == key1
	}
	require.True(t, found, "node1's key %s is registered: %+v", key1, keys.VrfKeys)
	claimsMustTx(t, net, "validators", "register-vrf-key", key1, "--from", "val1")
	require.Contains(t, claimsTxErr(t, net, "validators", "register-vrf-key", key1, "--from", "carol"), "not a consensus authority")
	net.REST(t, 0, "/buildchain/validators/v1/vrf_keys", &keys)
	found = false
	for _, k := range keys.VrfKeys {
		found = found || (k.Operator != "" && strings.HasPrefix(k.Operator, "bcvaloper"))
	}
	require.True(t, found, "the registration names its operator: %+v", keys.VrfKeys)

	deposit := "10000000ubct"
	submit := func(drv, out string) uint64 {
		res := claimsMustTx(t, net, "claims", "submit", drv, out, "--deposit", deposit, "--from", "carol")
		var claims struct {
			Claims []claimView `json:"claims"`
		}
		net.REST(t, 0, "/buildchain/claims/v1/publishers/"+carol+"/claims?pagination.reverse=true&pagination.limit=1", &claims)
		require.NotEmpty(t, claims.Claims, "tx %s", res.TxHash)
		id, err := strconv.ParseUint(claims.Claims[0].ID, 10, 64)
		require.NoError(t, err)
		return id
	}
	// commit has the assigned validator commit to out (x/claims/README.md §Blind rounds; the
	// CLI keeps the salt in the client home for reveal).
	commit := func(id uint64, c claimView, out string) localnet.TxResponse {
		a := c.Assignments[c.open()]
		return net.Tx(t, "claims", "commit", strconv.FormatUint(id, 10), strconv.Itoa(a.Round), out, "4321", "--from", names[a.Validator])
	}
	isAssigned := func(c claimView) bool { return c.Status == "CLAIM_STATUS_ASSIGNED" && c.open() >= 0 }
	// reveal opens a REVEALING claim: the publisher's output (once) and every committed result.
	reveal := func(id uint64, c claimView) {
		sid := strconv.FormatUint(id, 10)
		if c.OutputCid == "" {
			claimsMustTx(t, net, "claims", "reveal-claim", sid, "--from", "carol")
		}
		for _, a := range c.Assignments {
			if a.Status == "ROUND_STATUS_COMMITTED" {
				claimsMustTx(t, net, "claims", "reveal", sid, strconv.Itoa(a.Round), "--from", names[a.Validator])
			}
		}
	}

	// drive makes every assigned validator commit to out and, once the claim is REVEALING,
	// everyone reveal, until the claim is VALID or DISPUTED (with p_continue > 0 the game may
	// take a second round with the other validator); it returns the claim.
	drive := func(id uint64, out string) claimView {
		for {
			c := waitClaimREST(t, net, id, "assigned, revealing or out of the rounds", func(c claimView) bool {
				return isAssigned(c) || (c.Status != "CLAIM_STATUS_PENDING" && c.Status != "CLAIM_STATUS_ASSIGNED")
			})
			switch c.Status {
			case "CLAIM_STATUS_ASSIGNED":
			case "CLAIM_STATUS_REVEALING":
				reveal(id, c)
				waitClaimREST(t, net, id, "revealed", func(n claimView) bool { return n.Status != "CLAIM_STATUS_REVEALING" })
				continue
			default: // VALID, DISPUTED, or a claim that left the game otherwise
				return c
			}
			require.NotEqual(t, carol, c.Assignments[c.open()].Validator, "the publisher is never its own validator")
			res := commit(id, c, out)
			require.Zero(t, res.Code, res.RawLog)
			waitClaimREST(t, net, id, "committed", func(n claimView) bool { return len(n.Assignments) != len(c.Assignments) || n.Status != c.Status })
		}
	}
	driveValid := func(id uint64, out string) {
		require.Equal(t, "CLAIM_STATUS_VALID", drive(id, out).Status)
	}

	// 1. Agreeing results → VALID.
	drv1, out1 := claimTestCID(cid.DagJSON, "drv hello"), claimTestCID(cid.DagProtobuf, "out hello")
	carolBefore := balanceREST(t, net, 0, carol)
	id1 := submit(drv1, out1)
	driveValid(id1, out1)
	c1 := getClaimREST(t, net, 1, id1) // seen on another node too
	require.Equal(t, "CLAIM_STATUS_VALID", c1.Status)
	require.False(t, c1.DepositLocked)
	var verified struct {
		OutputCid string `json:"output_cid"`
		ClaimID   string `json:"claim_id"`
	}
	net.REST(t, 2, "/buildchain/claims/v1/derivations/"+drv1+"/verified", &verified)
	require.Equal(t, out1, verified.OutputCid)
	eventually(t, 10*time.Second, "the deposit back (only the claim fee spent)", func() bool {
		return balanceREST(t, net, 0, carol).Equal(carolBefore.SubRaw(100_000))
	})

	// 3. Bad input: clear errors, nothing changes.
	out3 := claimTestCID(cid.DagProtobuf, "out three")
	id3 := submit(claimTestCID(cid.DagJSON, "drv three"), out3)
	c3 := waitClaimREST(t, net, id3, "assigned", isAssigned)
	assignee := c3.Assignments[c3.open()].Validator
	other := alice
	if assignee == alice {
		other = bob
	}
	// Bad commits first (the claim must still be waiting for the assignee afterwards). They go
	// out at once (localnet.TxsAtOnce): one block each, the assignee's round could time out
	// (report_timeout_blocks) before its real commit on a loaded machine.
	before := getClaimREST(t, net, 0, id3)
	sid := strconv.FormatUint(id3, 10)
	badCommits := []struct {
		args []string
		want string
	}{
		{[]string{"claims", "commit", "999999", "1", out3, "10", "--from", names[assignee]}, "claim not found"},
		{[]string{"claims", "commit", sid, "1", out3, "10", "--from", names[other]}, "not assigned"},
		{[]string{"claims", "commit", sid, "2", out3, "10", "--from", names[assignee]}, "wrong round"},
		{[]string{"claims", "commit", sid, "1", "not-a-cid", "10", "--from", names[assignee]}, "invalid CID"},
		{[]string{"claims", "commit", sid, "1", drv1, "10", "--from", names[assignee]}, "codec"},
		{[]string{"claims", "reveal", sid, "1", "--from", names[assignee]}, "no commitment"},
	}
	var badTxs [][]string
	for _, tc := range badCommits {
		badTxs = append(badTxs, tc.args)
	}
	for i, o := range net.TxsAtOnce(t, badTxs...) {
		tc := badCommits[i]
		if o.CLI.Err != nil {
			require.Contains(t, o.CLI.Stdout+o.CLI.Stderr+o.CLI.Err.Error(), tc.want, "%v", tc.args)
			continue
		}
		require.NotZero(t, o.Res.Code, "tx %v should have failed", tc.args)
		require.Contains(t, o.Res.RawLog, tc.want, "%v", tc.args)
	}
	require.Equal(t, before, getClaimREST(t, net, 0, id3), "failed commits changed the claim")
	// The assignee's commit counts once; a second one for the same round is refused.
	res := commit(id3, c3, out3)
	require.Zero(t, res.Code, res.RawLog)
	msg := claimsTxErr(t, net, "claims", "commit", sid, "1", out3, "10", "--from", names[assignee])
	require.Contains(t, msg, "already reported")
	// Played out now: its reveal window (report_timeout_blocks) may open with this commit.
	driveValid(id3, out3)

	// Bad claims and registrations: nothing locked, no claim created.
	balBefore := allBalancesREST(t, net, 0, carol)
	var mine struct {
		Pagination struct {
			Total string `json:"total"`
		} `json:"pagination"`
	}
	net.REST(t, 0, "/buildchain/claims/v1/publishers/"+carol+"/claims?pagination.count_total=true", &mine)
	claimsBefore := mine.Pagination.Total
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"claims", "submit", "bafybogus", out3, "--deposit", deposit, "--from", "carol"}, "invalid CID"},
		{[]string{"claims", "submit", drv1, out3, "--deposit", "9999999ubct", "--from", "carol"}, "below min_deposit"},
		{[]string{"claims", "submit", drv1, out3, "--deposit", "10000000stake", "--from", "carol"}, "deposit must be in ubct"},
		{[]string{"validators", "register", "999ubct", "x86_64-linux", "--from", "carol"}, "below min_bond"},
		{[]string{"validators", "register", "1000000000ubct", "x86_64-linux", "--from", "alice"}, "already registered"},
		{[]string{"validators", "unjail", "--from", "carol"}, "validator not found"},
	} {
		msg := claimsTxErr(t, net, tc.args...)
		require.Contains(t, msg, tc.want, "%v", tc.args)
	}
	require.Equal(t, balBefore, allBalancesREST(t, net, 0, carol), "failed txs moved coins")
	net.REST(t, 0, "/buildchain/claims/v1/publishers/"+carol+"/claims?pagination.count_total=true", &mine)
	require.Equal(t, claimsBefore, mine.Pagination.Total, "a failed submit created a claim")

	// 4. A validator that never commits: jailed, and the round reassigned to the other one.
	id4 := submit(claimTestCID(cid.DagJSON, "drv four"), claimTestCID(cid.DagProtobuf, "out four"))
	c4 := waitClaimREST(t, net, id4, "assigned", isAssigned)
	lazy := c4.Assignments[c4.open()].Validator
	c4 = waitClaimRESTFor(t, net, id4, 3*time.Minute, "timed out and reassigned", func(c claimView) bool {
		return len(c.Assignments) >= 2 && c.Assignments[0].Status == "ROUND_STATUS_TIMED_OUT" && isAssigned(c)
	})
	require.Equal(t, lazy, c4.Assignments[0].Validator)
	require.NotEqual(t, lazy, c4.Assignments[1].Validator, "reassigned to another validator")
	require.Equal(t, c4.Assignments[0].Round, c4.Assignments[1].Round, "same round")
	require.Equal(t, "VALIDATOR_STATUS_JAILED", buildValidatorStatus(t, net, lazy))
	msg = claimsTxErr(t, net, "validators", "unjail", "--from", names[lazy])
	require.True(t, strings.Contains(msg, "still jailed"), msg)
	driveValid(id4, claimTestCID(cid.DagProtobuf, "out four"))

	// Last (the market it opens may play more rounds with our validators):
	// 2. A different output → DISPUTED, both outputs recorded.
	drv2, out2, evil := claimTestCID(cid.DagJSON, "drv two"), claimTestCID(cid.DagProtobuf, "out two"), claimTestCID(cid.DagProtobuf, "evil")
	id2 := submit(drv2, out2)
	c2 := waitClaimREST(t, net, id2, "assigned", isAssigned)
	checkOpenProtocolRefused(t, net, "carol", names[c2.Assignments[c2.open()].Validator], id2, c2.Assignments[c2.open()].Round)
	res = commit(id2, c2, evil)
	require.Zero(t, res.Code, res.RawLog)
	waitClaimREST(t, net, id2, "committed", func(c claimView) bool { return c.Status != "CLAIM_STATUS_ASSIGNED" || len(c.Assignments) > 1 })
	c2 = drive(id2, out2) // a later round, if drawn, agrees; the reveals open the dissent
	require.Equal(t, "CLAIM_STATUS_DISPUTED", c2.Status)
	require.Equal(t, out2, c2.OutputCid, "revealed")
	require.Equal(t, "ROUND_STATUS_DISAGREED", c2.Assignments[0].Status)
	require.Equal(t, evil, c2.Assignments[0].OutputCid)
	require.True(t, c2.DepositLocked)

}
