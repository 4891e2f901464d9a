package chain

import (
	"context"
	"testing"

	cid "github.com/ipfs/go-cid"

	abci "github.com/cometbft/cometbft/abci/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/stretchr/testify/require"

	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

const drv = "baguqeeranrmdrohqgggc7x4gyezin55lbqwnxunpgt2pmh5ejxntlod7o52a"

func typed(t *testing.T, m interface{ ProtoMessage() }) abci.Event {
	t.Helper()
	ev, err := sdk.TypedEventToEvent(m.(sdkMsg))
	require.NoError(t, err)
	return abci.Event(ev)
}

type sdkMsg = interface {
	ProtoMessage()
	Reset()
	String() string
}

func TestDecodeEventsFromEndBlock(t *testing.T) {
	assigned := typed(t, &claimstypes.EventClaimAssigned{ClaimId: 7, Round: 2, Validator: "bc1v", DerivationCid: drv, System: "x86_64-linux", DeadlineHeight: 99})
	// FinalizeBlock events carry mode=EndBlock, which is not JSON.
	assigned.Attributes = append(assigned.Attributes, abci.EventAttribute{Key: "mode", Value: "EndBlock"})
	timedOut := typed(t, &claimstypes.EventRoundTimedOut{ClaimId: 5, Round: 1, Validator: "bc1w"})
	valid := typed(t, &claimstypes.EventClaimValid{ClaimId: 4})
	other := abci.Event{Type: "transfer", Attributes: []abci.EventAttribute{{Key: "amount", Value: "1ubct"}}}
	deposit := typed(t, &claimstypes.EventDepositReturned{ClaimId: 4})

	as, ended, err := DecodeEvents([]abci.Event{other, assigned, timedOut, valid, deposit})
	require.NoError(t, err)
	require.Len(t, as, 1)
	require.Equal(t, uint64(7), as[0].ClaimID)
	require.Equal(t, uint32(2), as[0].Round)
	require.Equal(t, "bc1v", as[0].Validator)
	require.Equal(t, drv, as[0].Derivation.String())
	require.Equal(t, int64(99), as[0].Deadline)
	require.Equal(t, []RoundKey{{ClaimID: 5, Round: 1}, {ClaimID: 4}}, ended)

	bad := typed(t, &claimstypes.EventClaimAssigned{ClaimId: 1, Round: 1, Validator: "bc1v", DerivationCid: "not-a-cid"})
	_, _, err = DecodeEvents([]abci.Event{bad})
	require.ErrorContains(t, err, "bad derivation CID")
}

func TestRoundStateOf(t *testing.T) {
	c := claimstypes.Claim{Status: claimstypes.CLAIM_STATUS_ASSIGNED, OutputCommitment: []byte("commitment"), Assignments: []claimstypes.Assignment{
		{Round: 1, Validator: "a", Status: claimstypes.ROUND_STATUS_TIMED_OUT},
		{Round: 1, Validator: "b", Status: claimstypes.ROUND_STATUS_AGREED, OutputCid: "x"},
		{Round: 2, Validator: "a", Status: claimstypes.ROUND_STATUS_ASSIGNED},
	}}
	require.Equal(t, RoundGone, RoundStateOf(c, 1, "a"), "timed out and reassigned")
	require.Equal(t, RoundReported, RoundStateOf(c, 1, "b"))
	require.Equal(t, RoundOpen, RoundStateOf(c, 2, "a"))
	require.Equal(t, RoundGone, RoundStateOf(c, 3, "a"))
	open := c
	open.OutputCommitment = nil
	require.Equal(t, RoundGone, RoundStateOf(open, 2, "a"), "an open claim's round wants nothing: the chain refuses open reports")
	c.Status = claimstypes.CLAIM_STATUS_EXPIRED
	require.Equal(t, RoundGone, RoundStateOf(c, 2, "a"), "an open assignment of a finished claim is gone")
}

// The attributes BaseApp adds beside a typed event's fields are left out by
// the message's descriptor, whatever their values look like.
func TestParseEventKeepsOnlyTheMessageFields(t *testing.T) {
	opened := typed(t, &markettypes.EventMarketOpened{MarketId: 3, ClaimId: 8, ClaimedOutput: "a", ReportedOutput: "b", CommitEnd: 20, RevealEnd: 40})
	opened.Attributes = append(opened.Attributes,
		abci.EventAttribute{Key: "mode", Value: "EndBlock"}, abci.EventAttribute{Key: "msg_index", Value: "0"})
	m, err := ParseEvent(opened)
	require.NoError(t, err)
	require.Equal(t, &markettypes.EventMarketOpened{MarketId: 3, ClaimId: 8, ClaimedOutput: "a", ReportedOutput: "b", CommitEnd: 20, RevealEnd: 40}, m)

	// A field whose value is not its JSON encoding is an error, not skipped.
	broken := typed(t, &markettypes.EventMarketOpened{MarketId: 3})
	for i, a := range broken.Attributes {
		if a.Key == "claim_id" {
			broken.Attributes[i].Value = "eight"
		}
	}
	_, err = ParseEvent(broken)
	require.Error(t, err)

	_, err = ParseEvent(abci.Event{Type: "buildchain.nothing.v1.EventNone"})
	require.ErrorContains(t, err, "no protobuf message")
}

// A publisher's claims are blind: without a salt store nothing is sent, not an open claim.
func TestSubmitWithoutSaltsRefuses(t *testing.T) {
	d, err := cid.Decode(drv)
	require.NoError(t, err)
	_, _, err = (&Claims{}).Submit(context.Background(), d, d, "x86_64-linux", sdk.NewInt64Coin("ubct", 1))
	require.ErrorIs(t, err, ErrNotBlind)
}
