package keeper

import (
	"context"

	errorsmod "cosmossdk.io/errors"

	"github.com/buildchain/buildchain/x/validators/types"
)

var _ types.MsgServer = msgServer{}

type msgServer struct{ k Keeper }

// NewMsgServerImpl returns the Msg service of the module.
func NewMsgServerImpl(k Keeper) types.MsgServer { return msgServer{k: k} }

// UpdateParams replaces the module params; only the authority may do it.
func (m msgServer) UpdateParams(ctx context.Context, msg *types.MsgUpdateParams) (*types.MsgUpdateParamsResponse, error) {
	if msg.Authority != m.k.authority {
		return nil, errorsmod.Wrapf(types.ErrInvalidAuthority, "expected %s, got %s", m.k.authority, msg.Authority)
	}
	if err := msg.Params.Validate(); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidParams, err.Error())
	}
	if err := m.k.Params.Set(ctx, msg.Params); err != nil {
		return nil, errorsmod.Wrap(err, "setting params")
	}
	return &types.MsgUpdateParamsResponse{}, nil
}
