package chain

import (
	"context"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	cid "github.com/ipfs/go-cid"

	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/market/tally"
	markettypes "github.com/buildchain/buildchain/x/market/types"
	"github.com/cosmos/cosmos-sdk/types/query"
)

// Markets is sidecar.Markets over x/market, predicting as Client's account
// with Stake per market.
type Markets struct {
	C     *Client
	Stake sdk.Coin
}

// NewMarkets uses stake per prediction; a zero stake means the market's
// quorum, so that one honest prediction can decide a market alone.
func NewMarkets(ctx context.Context, c *Client, stake sdk.Coin) (*Markets, error) {
	if stake.IsNil() || stake.IsZero() {
		p, err := markettypes.NewQueryClient(c.ctx).Params(ctx, &markettypes.QueryParamsRequest{})
		if err != nil {
			return nil, fmt.Errorf("read market params: %w", err)
		}
		stake = p.Params.Quorum
		if stake.IsLT(p.Params.MinStake) {
			stake = p.Params.MinStake
		}
	}
	return &Markets{C: c, Stake: stake}, nil
}

var marketOpenedType = typeName(&markettypes.EventMarketOpened{})

// DecodeMarkets implements sidecar.Markets.
func (m *Markets) DecodeMarkets(events []abci.Event) ([]MarketOpened, error) {
	var out []MarketOpened
	for _, e := range events {
		if e.Type != marketOpenedType {
			continue
		}
		msg, err := ParseEvent(e)
		if err != nil {
			return nil, err
		}
		ev := msg.(*markettypes.EventMarketOpened)
		out = append(out, MarketOpened{MarketID: ev.MarketId, ClaimID: ev.ClaimId, Claimed: ev.ClaimedOutput,
			Reported: ev.ReportedOutput, CommitEnd: ev.CommitEnd, RevealEnd: ev.RevealEnd})
	}
	return out, nil
}

// ClaimDerivation implements sidecar.Markets.
func (m *Markets) ClaimDerivation(ctx context.Context, claimID uint64) (cid.Cid, error) {
	res, err := claimstypes.NewQueryClient(m.C.ctx).Claim(ctx, &claimstypes.QueryClaimRequest{Id: claimID})
	if err != nil {
		return cid.Undef, fmt.Errorf("query claim %d: %w", claimID, err)
	}
	return cid.Decode(res.Claim.DerivationCid)
}

// Commit implements sidecar.Markets with x/market's commit hash.
func (m *Markets) Commit(ctx context.Context, marketID uint64, o markettypes.Outcome, salt []byte) (string, error) {
	h, err := tally.CommitHash(tally.Outcome(o), salt, m.C.ctx.FromAddress)
	if err != nil {
		return "", err
	}
	_, hash, err := m.C.Broadcast(ctx, &markettypes.MsgCommitPrediction{Predictor: m.C.Address(), MarketId: marketID,
		CommitHash: h, Stake: m.Stake})
	return hash, err
}

// Reveal implements sidecar.Markets.
func (m *Markets) Reveal(ctx context.Context, marketID uint64, o markettypes.Outcome, salt []byte) (string, error) {
	_, hash, err := m.C.Broadcast(ctx, &markettypes.MsgRevealPrediction{Predictor: m.C.Address(), MarketId: marketID,
		Outcome: markettypes.Outcome(o), Salt: salt})
	return hash, err
}

// OnChain implements sidecar.Markets: our prediction in market marketID, read
// from the market's predictions at the latest height.
func (m *Markets) OnChain(ctx context.Context, marketID uint64) (PredictionState, error) {
	q := markettypes.NewQueryClient(m.C.ctx)
	req := &markettypes.QueryPredictionsRequest{MarketId: marketID, Pagination: &query.PageRequest{Limit: 200}}
	for {
		res, err := q.Predictions(ctx, req)
		if err != nil {
			return PredictionState{}, fmt.Errorf("query predictions of market %d: %w", marketID, err)
		}
		for _, p := range res.Predictions {
			if p.Predictor == m.C.Address() {
				return PredictionState{Committed: true, Revealed: p.Revealed}, nil
			}
		}
		if res.Pagination == nil || len(res.Pagination.NextKey) == 0 {
			return PredictionState{}, nil
		}
		req.Pagination = &query.PageRequest{Key: res.Pagination.NextKey, Limit: 200}
	}
}
