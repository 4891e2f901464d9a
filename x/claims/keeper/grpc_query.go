package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/buildchain/buildchain/x/claims/types"
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

// Claim returns a claim by id.
func (q queryServer) Claim(ctx context.Context, req *types.QueryClaimRequest) (*types.QueryClaimResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	c, err := q.k.Claims.Get(ctx, req.Id)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "claim %d not found", req.Id)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryClaimResponse{Claim: c}, nil
}

// Claims lists claims in id order, optionally only those with one status.
func (q queryServer) Claims(ctx context.Context, req *types.QueryClaimsRequest) (*types.QueryClaimsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	if _, ok := types.ClaimStatus_name[int32(req.Status)]; !ok {
		return nil, status.Errorf(codes.InvalidArgument, "unknown status %d", req.Status)
	}
	claims, page, err := query.CollectionFilteredPaginate(ctx, q.k.Claims, req.Pagination,
		func(_ uint64, c types.Claim) (bool, error) {
			return req.Status == types.CLAIM_STATUS_UNSPECIFIED || c.Status == req.Status, nil
		},
		func(_ uint64, c types.Claim) (types.Claim, error) { return c, nil })
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryClaimsResponse{Claims: claims, Pagination: page}, nil
}

func (q queryServer) byString(ctx context.Context, set collections.KeySet[collections.Pair[string, uint64]], key string, page *query.PageRequest) (*types.QueryClaimsResponse, error) {
	claims, res, err := query.CollectionPaginate(ctx, set, page,
		func(k collections.Pair[string, uint64], _ collections.NoValue) (types.Claim, error) {
			return q.k.Claims.Get(ctx, k.K2())
		}, query.WithCollectionPaginationPairPrefix[string, uint64](key))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryClaimsResponse{Claims: claims, Pagination: res}, nil
}

func (q queryServer) byAddr(ctx context.Context, set collections.KeySet[collections.Pair[sdk.AccAddress, uint64]], field, bech string, page *query.PageRequest) (*types.QueryClaimsResponse, error) {
	addr, err := sdk.AccAddressFromBech32(bech)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid %s address %q: %s", field, bech, err)
	}
	claims, res, err := query.CollectionPaginate(ctx, set, page,
		func(k collections.Pair[sdk.AccAddress, uint64], _ collections.NoValue) (types.Claim, error) {
			return q.k.Claims.Get(ctx, k.K2())
		}, query.WithCollectionPaginationPairPrefix[sdk.AccAddress, uint64](addr))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryClaimsResponse{Claims: claims, Pagination: res}, nil
}

// ClaimsByDerivation lists the claims about a derivation.
func (q queryServer) ClaimsByDerivation(ctx context.Context, req *types.QueryClaimsByDerivationRequest) (*types.QueryClaimsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	if _, err := types.ParseCID("derivation_cid", req.DerivationCid); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return q.byString(ctx, q.k.ByDerivation, req.DerivationCid, req.Pagination)
}

// ClaimsByOutput lists the claims naming an output.
func (q queryServer) ClaimsByOutput(ctx context.Context, req *types.QueryClaimsByOutputRequest) (*types.QueryClaimsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	if _, err := types.ParseCID("output_cid", req.OutputCid); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return q.byString(ctx, q.k.ByOutput, req.OutputCid, req.Pagination)
}

// ClaimsByPublisher lists a publisher's claims.
func (q queryServer) ClaimsByPublisher(ctx context.Context, req *types.QueryClaimsByPublisherRequest) (*types.QueryClaimsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	return q.byAddr(ctx, q.k.ByPublisher, "publisher", req.Publisher, req.Pagination)
}

// ClaimsByValidator lists the claims a validator was assigned to (or only its open ones).
func (q queryServer) ClaimsByValidator(ctx context.Context, req *types.QueryClaimsByValidatorRequest) (*types.QueryClaimsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	set := q.k.ByValidator
	if req.OpenOnly {
		set = q.k.OpenAssignments
	}
	return q.byAddr(ctx, set, "validator", req.Validator, req.Pagination)
}

// VerifiedOutput returns the output of the first claim about a derivation that became VALID.
func (q queryServer) VerifiedOutput(ctx context.Context, req *types.QueryVerifiedOutputRequest) (*types.QueryVerifiedOutputResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	if _, err := types.ParseCID("derivation_cid", req.DerivationCid); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	id, err := q.k.Verified.Get(ctx, req.DerivationCid)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "derivation %s has no verified output", req.DerivationCid)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	c, err := q.k.Claims.Get(ctx, id)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryVerifiedOutputResponse{OutputCid: c.OutputCid, ClaimId: c.Id, Rounds: c.Round, VerifiedHeight: c.FinishedHeight}, nil
}
