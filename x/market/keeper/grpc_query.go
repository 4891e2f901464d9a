package keeper

import (
	"context"

	"cosmossdk.io/collections"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/buildchain/buildchain/x/market/types"
)

var _ types.QueryServer = queryServer{}

type queryServer struct{ k Keeper }

// NewQueryServerImpl returns the gRPC query service of the module.
func NewQueryServerImpl(k Keeper) types.QueryServer { return queryServer{k: k} }

// Params returns the module params.
func (q queryServer) Params(ctx context.Context, req *types.QueryParamsRequest) (*types.QueryParamsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	params, err := q.k.Params.Get(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "reading params: %s", err)
	}
	return &types.QueryParamsResponse{Params: params}, nil
}

// Market returns one market.
func (q queryServer) Market(ctx context.Context, req *types.QueryMarketRequest) (*types.QueryMarketResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	m, err := q.k.Markets.Get(ctx, req.Id)
	if err != nil {
		return nil, status.Errorf(codes.NotFound, "market %d: %s", req.Id, err)
	}
	return &types.QueryMarketResponse{Market: m}, nil
}

// MarketsByClaim returns a claim's markets, oldest first.
func (q queryServer) MarketsByClaim(ctx context.Context, req *types.QueryMarketsByClaimRequest) (*types.QueryMarketsByClaimResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	var out []types.Market
	err := q.k.ByClaim.Walk(ctx, collections.NewPrefixedPairRange[uint64, uint64](req.ClaimId), func(key collections.Pair[uint64, uint64]) (bool, error) {
		m, err := q.k.Markets.Get(ctx, key.K2())
		if err != nil {
			return true, err
		}
		out = append(out, m)
		return false, nil
	})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "reading markets of claim %d: %s", req.ClaimId, err)
	}
	return &types.QueryMarketsByClaimResponse{Markets: out}, nil
}

// OpenMarkets returns unresolved markets, soonest reveal_end first.
func (q queryServer) OpenMarkets(ctx context.Context, req *types.QueryOpenMarketsRequest) (*types.QueryOpenMarketsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	ms, page, err := query.CollectionPaginate(ctx, q.k.OpenMarkets, req.Pagination,
		func(key collections.Pair[int64, uint64], _ collections.NoValue) (types.Market, error) {
			return q.k.Markets.Get(ctx, key.K2())
		})
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "paginating: %s", err)
	}
	return &types.QueryOpenMarketsResponse{Markets: ms, Pagination: page}, nil
}

// Predictions returns a market's predictions in predictor order.
func (q queryServer) Predictions(ctx context.Context, req *types.QueryPredictionsRequest) (*types.QueryPredictionsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	if has, err := q.k.Markets.Has(ctx, req.MarketId); err != nil || !has {
		return nil, status.Errorf(codes.NotFound, "market %d not found", req.MarketId)
	}
	ps, page, err := query.CollectionPaginate(ctx, q.k.Predictions, req.Pagination,
		func(_ collections.Pair[uint64, sdk.AccAddress], p types.Prediction) (types.Prediction, error) {
			return p, nil
		},
		query.WithCollectionPaginationPairPrefix[uint64, sdk.AccAddress](req.MarketId))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "paginating: %s", err)
	}
	return &types.QueryPredictionsResponse{Predictions: ps, Pagination: page}, nil
}

// PredictionsByAccount returns an account's predictions, newest market first.
func (q queryServer) PredictionsByAccount(ctx context.Context, req *types.QueryPredictionsByAccountRequest) (*types.QueryPredictionsByAccountResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	addr, err := sdk.AccAddressFromBech32(req.Address)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid address %q: %s", req.Address, err)
	}
	pag := req.Pagination
	if pag == nil {
		pag = &query.PageRequest{}
	}
	pag.Reverse = true
	ps, page, err := query.CollectionPaginate(ctx, q.k.ByAccount, pag,
		func(key collections.Pair[sdk.AccAddress, uint64], _ collections.NoValue) (types.Prediction, error) {
			return q.k.Predictions.Get(ctx, collections.Join(key.K2(), addr))
		},
		query.WithCollectionPaginationPairPrefix[sdk.AccAddress, uint64](addr))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "paginating: %s", err)
	}
	return &types.QueryPredictionsByAccountResponse{Predictions: ps, Pagination: page}, nil
}
