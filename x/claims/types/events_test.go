package types_test

import (
	"math"
	"math/rand"
	"testing"

	sdkmath "cosmossdk.io/math"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/claims/types"
)

// tricky strings: JSON escapes (HTML characters, quotes, control characters), non-ASCII,
// invalid UTF-8 and the empty string.
var tricky = []string{"", "bafy<>&\"\\'\n\t\x01", "π≈3.14 😀", "\xff\xfe", "x86_64-linux",
	"bc1549rgy7p5a57ryadfyjl5xq0q0hc825ne9vkam"}

func pick(r *rand.Rand) string { return tricky[r.Intn(len(tricky))] }

// The hand-built events are exactly what sdk.TypedEventToEvent makes, and parse back.
func TestFastEventsMatchTypedEventToEvent(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	ids := []uint64{0, 1, 1 << 53, math.MaxUint64}
	for i := 0; i < 200; i++ {
		sub := &types.EventClaimSubmitted{ClaimId: ids[r.Intn(len(ids))], Publisher: pick(r), DerivationCid: pick(r),
			OutputCid: pick(r), System: pick(r), Deposit: sdk.Coin{Denom: pick(r), Amount: sdkmath.NewIntFromUint64(r.Uint64())}}
		if i == 0 {
			sub.Deposit = sdk.Coin{} // nil amount
		}
		got, err := sub.ToEvent()
		require.NoError(t, err)
		want, err := sdk.TypedEventToEvent(sub)
		require.NoError(t, err)
		require.Equal(t, want, got)
		if i > 0 {
			parsed, err := sdk.ParseTypedEvent(abciEvent(got))
			require.NoError(t, err)
			require.Equal(t, sub.ClaimId, parsed.(*types.EventClaimSubmitted).ClaimId)
		}

		heights := []int64{0, 1, -5, math.MaxInt64, math.MinInt64}
		rounds := []uint32{0, 1, math.MaxUint32}
		as := &types.EventClaimAssigned{ClaimId: ids[r.Intn(len(ids))], Round: rounds[r.Intn(len(rounds))], Validator: pick(r),
			DerivationCid: pick(r), System: pick(r), DeadlineHeight: heights[r.Intn(len(heights))]}
		got, err = as.ToEvent()
		require.NoError(t, err)
		want, err = sdk.TypedEventToEvent(as)
		require.NoError(t, err)
		require.Equal(t, want, got)
		parsed, err := sdk.ParseTypedEvent(abciEvent(got))
		require.NoError(t, err)
		require.Equal(t, as.DeadlineHeight, parsed.(*types.EventClaimAssigned).DeadlineHeight)
	}
}

func abciEvent(e sdk.Event) abci.Event { return abci.Event(e) }
