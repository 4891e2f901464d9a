package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/buildchain/buildchain/x/validators/types"
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

// Validator returns one build validator.
func (q queryServer) Validator(ctx context.Context, req *types.QueryValidatorRequest) (*types.QueryValidatorResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	addr, err := sdk.AccAddressFromBech32(req.Operator)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid operator address %q: %s", req.Operator, err)
	}
	v, err := q.k.Validators.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "validator %s not found", req.Operator)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryValidatorResponse{Validator: v}, nil
}

// Validators lists all build validators, in operator address order.
func (q queryServer) Validators(ctx context.Context, req *types.QueryValidatorsRequest) (*types.QueryValidatorsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	vals, page, err := query.CollectionPaginate(ctx, q.k.Validators, req.Pagination,
		func(_ sdk.AccAddress, v types.Validator) (types.Validator, error) { return v, nil })
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryValidatorsResponse{Validators: vals, Pagination: page}, nil
}

// ValidatorsBySystem lists the build validators supporting a system.
func (q queryServer) ValidatorsBySystem(ctx context.Context, req *types.QueryValidatorsBySystemRequest) (*types.QueryValidatorsBySystemResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	if err := types.ValidateSystem(req.System); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	vals, page, err := query.CollectionPaginate(ctx, q.k.BySystem, req.Pagination,
		func(key collections.Pair[string, sdk.AccAddress], _ collections.NoValue) (types.Validator, error) {
			return q.k.Validators.Get(ctx, key.K2())
		}, query.WithCollectionPaginationPairPrefix[string, sdk.AccAddress](req.System))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryValidatorsBySystemResponse{Validators: vals, Pagination: page}, nil
}

// Randomness returns the beacon output of a height (0: the latest).
func (q queryServer) Randomness(ctx context.Context, req *types.QueryRandomnessRequest) (*types.QueryRandomnessResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	if req.Height < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "height must be >= 0, got %d", req.Height)
	}
	var (
		r   types.Randomness
		err error
	)
	if req.Height == 0 {
		r, err = q.k.LastRandomness.Get(ctx)
	} else {
		r, err = q.k.Randomness.Get(ctx, req.Height)
	}
	if errors.Is(err, collections.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "no randomness at height %d (only the last %d blocks are kept)", req.Height, types.RandomnessHistoryBlocks)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryRandomnessResponse{Randomness: r}, nil
}

// VrfKeys lists the authorities' VRF keys.
func (q queryServer) VrfKeys(ctx context.Context, req *types.QueryVrfKeysRequest) (*types.QueryVrfKeysResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	keys, page, err := query.CollectionPaginate(ctx, q.k.VrfKeys, req.Pagination,
		func(_ sdk.ConsAddress, v types.VrfKey) (types.VrfKey, error) { return v, nil })
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryVrfKeysResponse{VrfKeys: keys, Pagination: page}, nil
}
