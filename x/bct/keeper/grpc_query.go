package keeper

import (
	"context"

	"cosmossdk.io/collections"
	sdkmath "cosmossdk.io/math"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	appparams "github.com/buildchain/buildchain/app/params"
	"github.com/buildchain/buildchain/x/bct/economics"
	"github.com/buildchain/buildchain/x/bct/types"
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

// CurrentPeriod returns the current period and its last height.
func (q queryServer) CurrentPeriod(ctx context.Context, req *types.QueryCurrentPeriodRequest) (*types.QueryCurrentPeriodResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	p, err := q.k.Period.Get(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "reading period: %s", err)
	}
	params, err := q.k.Params.Get(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "reading params: %s", err)
	}
	return &types.QueryCurrentPeriodResponse{Period: p, EndHeight: PeriodEnd(p, params)}, nil
}

// PeriodRecords returns finished periods, newest first.
func (q queryServer) PeriodRecords(ctx context.Context, req *types.QueryPeriodRecordsRequest) (*types.QueryPeriodRecordsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	pag := req.Pagination
	if pag == nil {
		pag = &query.PageRequest{}
	}
	pag.Reverse = true
	recs, res, err := query.CollectionPaginate(ctx, q.k.PeriodRecords, pag,
		func(_ uint64, r types.PeriodRecord) (types.PeriodRecord, error) { return r, nil })
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "paginating: %s", err)
	}
	return &types.QueryPeriodRecordsResponse{Records: recs, Pagination: res}, nil
}

// ValidatorStats returns a validator's stats (fresh ones if it never built).
func (q queryServer) ValidatorStats(ctx context.Context, req *types.QueryValidatorStatsRequest) (*types.QueryValidatorStatsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	addr, err := sdk.AccAddressFromBech32(req.Address)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid address %q: %s", req.Address, err)
	}
	s, err := q.k.stats(ctx, addr)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryValidatorStatsResponse{Stats: s}, nil
}

// Inflation returns the rate, this period's mint at the current supply, and the yearly
// provisions.
func (q queryServer) Inflation(ctx context.Context, req *types.QueryInflationRequest) (*types.QueryInflationResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	params, err := q.k.Params.Get(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "reading params: %s", err)
	}
	supply := q.k.Supply(ctx)
	mint, err := economics.MintAmount(supply, params.InflationRate, int64(params.PaymentPeriodBlocks), int64(params.BlocksPerYear))
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryInflationResponse{
		InflationRate: params.InflationRate, PeriodMint: mint,
		AnnualProvisions: economics.MulDecFloor(supply, params.InflationRate),
	}, nil
}

// Supply returns the ubct supply and lifetime totals.
func (q queryServer) Supply(ctx context.Context, req *types.QuerySupplyRequest) (*types.QuerySupplyResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	totals, err := q.k.Totals.Get(ctx)
	if err != nil && err != collections.ErrNotFound {
		return nil, status.Errorf(codes.Internal, "reading totals: %s", err)
	}
	if err != nil {
		totals = types.Totals{Minted: sdkmath.ZeroInt(), Burned: sdkmath.ZeroInt()}
	}
	devAddr, err := q.k.DevFundAddress(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QuerySupplyResponse{
		Supply: q.k.Supply(ctx), Totals: totals,
		DevFundBalance: q.k.bankKeeper.GetBalance(ctx, devAddr, appparams.BondDenom).Amount,
	}, nil
}
