package keeper

import (
	"bytes"
	"context"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/validators/types"
)

var _ types.MsgServer = msgServer{}

type msgServer struct{ k Keeper }

// NewMsgServerImpl returns the Msg service of the module.
func NewMsgServerImpl(k Keeper) types.MsgServer { return msgServer{k: k} }

// UpdateParams replaces the module params; only the authority may do it.
func (m msgServer) UpdateParams(ctx context.Context, msg *types.MsgUpdateParams) (*types.MsgUpdateParamsResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	if msg.Authority != m.k.authority {
		return nil, errorsmod.Wrapf(types.ErrInvalidAuthority, "expected %s, got %s", m.k.authority, msg.Authority)
	}
	if err := m.k.Params.Set(ctx, msg.Params); err != nil {
		return nil, errorsmod.Wrap(err, "setting params")
	}
	return &types.MsgUpdateParamsResponse{}, nil
}

// RegisterValidator registers the operator as a build validator and locks its bond.
func (m msgServer) RegisterValidator(ctx context.Context, msg *types.MsgRegisterValidator) (*types.MsgRegisterValidatorResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	addr, _ := sdk.AccAddressFromBech32(msg.Operator) // checked by ValidateBasic
	has, err := m.k.Validators.Has(ctx, addr)
	if err != nil {
		return nil, err
	}
	if has {
		return nil, errorsmod.Wrapf(types.ErrValidatorExists, "%s", msg.Operator)
	}
	params, err := m.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if msg.Bond.Denom != params.MinBond.Denom {
		return nil, errorsmod.Wrapf(types.ErrWrongDenom, "bond must be in %s, got %s", params.MinBond.Denom, msg.Bond.Denom)
	}
	if msg.Bond.IsLT(params.MinBond) {
		return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond %s is below min_bond %s", msg.Bond, params.MinBond)
	}
	systems, _ := types.NormalizeSystems(msg.Systems)
	if err := m.k.bank.SendCoinsFromAccountToModule(ctx, addr, types.ModuleName, sdk.NewCoins(msg.Bond)); err != nil {
		return nil, errorsmod.Wrap(err, "locking bond")
	}
	v := types.Validator{
		Operator:         msg.Operator,
		Systems:          systems,
		Bond:             msg.Bond,
		Status:           types.VALIDATOR_STATUS_ACTIVE,
		Efficiency:       sdkmath.LegacyOneDec(),
		RegisteredHeight: sdk.UnwrapSDKContext(ctx).BlockHeight(),
	}
	if err := m.k.setValidator(ctx, nil, v); err != nil {
		return nil, err
	}
	return &types.MsgRegisterValidatorResponse{}, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(
		&types.EventValidatorRegistered{Operator: v.Operator, Systems: v.Systems, Bond: v.Bond})
}

// UpdateValidator replaces the systems and/or adds bond. Not allowed while unbonding.
func (m msgServer) UpdateValidator(ctx context.Context, msg *types.MsgUpdateValidator) (*types.MsgUpdateValidatorResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	addr, _ := sdk.AccAddressFromBech32(msg.Operator)
	old, err := m.k.GetValidator(ctx, addr)
	if err != nil {
		return nil, err
	}
	if old.Status == types.VALIDATOR_STATUS_UNBONDING {
		return nil, errorsmod.Wrapf(types.ErrWrongStatus, "%s is unbonding", msg.Operator)
	}
	v := old
	v.Systems = append([]string(nil), old.Systems...)
	if len(msg.Systems) > 0 {
		v.Systems, _ = types.NormalizeSystems(msg.Systems)
	}
	if msg.AddsBond() {
		if msg.AddBond.Denom != v.Bond.Denom {
			return nil, errorsmod.Wrapf(types.ErrWrongDenom, "bond is in %s, got %s", v.Bond.Denom, msg.AddBond.Denom)
		}
		if err := m.k.bank.SendCoinsFromAccountToModule(ctx, addr, types.ModuleName, sdk.NewCoins(msg.AddBond)); err != nil {
			return nil, errorsmod.Wrap(err, "locking added bond")
		}
		v.Bond = v.Bond.Add(msg.AddBond)
	}
	if err := m.k.setValidator(ctx, &old, v); err != nil {
		return nil, err
	}
	return &types.MsgUpdateValidatorResponse{}, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(
		&types.EventValidatorUpdated{Operator: v.Operator, Systems: v.Systems, Bond: v.Bond})
}

// UnbondValidator stops new assignments and queues the bond's return after unbonding_blocks.
// The bond stays slashable until then (a pending assignment can still time out).
func (m msgServer) UnbondValidator(ctx context.Context, msg *types.MsgUnbondValidator) (*types.MsgUnbondValidatorResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	addr, _ := sdk.AccAddressFromBech32(msg.Operator)
	v, err := m.k.GetValidator(ctx, addr)
	if err != nil {
		return nil, err
	}
	if v.Status == types.VALIDATOR_STATUS_UNBONDING {
		return nil, errorsmod.Wrapf(types.ErrWrongStatus, "%s is already unbonding until height %d", msg.Operator, v.UnbondingHeight)
	}
	params, err := m.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	v.Status = types.VALIDATOR_STATUS_UNBONDING
	v.UnbondingHeight = sdk.UnwrapSDKContext(ctx).BlockHeight() + int64(params.UnbondingBlocks)
	if err := m.k.Validators.Set(ctx, addr, v); err != nil {
		return nil, err
	}
	if err := m.k.UnbondingQueue.Set(ctx, collections.Join(v.UnbondingHeight, addr)); err != nil {
		return nil, err
	}
	return &types.MsgUnbondValidatorResponse{UnbondingHeight: v.UnbondingHeight},
		sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(
			&types.EventValidatorUnbonding{Operator: v.Operator, UnbondingHeight: v.UnbondingHeight})
}

// Unjail re-activates a jailed validator once its jail time is over and its bond (after
// slashes) is at least min_bond again.
func (m msgServer) Unjail(ctx context.Context, msg *types.MsgUnjail) (*types.MsgUnjailResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	addr, _ := sdk.AccAddressFromBech32(msg.Operator)
	v, err := m.k.GetValidator(ctx, addr)
	if err != nil {
		return nil, err
	}
	if v.Status != types.VALIDATOR_STATUS_JAILED {
		return nil, errorsmod.Wrapf(types.ErrWrongStatus, "%s is %s, not jailed", msg.Operator, v.Status.StatusName())
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	if height < v.JailedUntil {
		return nil, errorsmod.Wrapf(types.ErrStillJailed, "%s is jailed until height %d (now %d)", msg.Operator, v.JailedUntil, height)
	}
	params, err := m.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if v.Bond.IsLT(params.MinBond) {
		return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond %s is below min_bond %s: add bond with update first", v.Bond, params.MinBond)
	}
	v.Status = types.VALIDATOR_STATUS_ACTIVE
	v.MissedAssignments = 0
	v.JailedUntil = 0
	if err := m.k.Validators.Set(ctx, addr, v); err != nil {
		return nil, err
	}
	return &types.MsgUnjailResponse{}, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(
		&types.EventValidatorUnjailed{Operator: v.Operator})
}

// RegisterVrfKey registers (or rotates) the VRF key of the consensus authority operated by the
// signer. The key is used from vrf_key_activation_delay blocks later on.
func (m msgServer) RegisterVrfKey(ctx context.Context, msg *types.MsgRegisterVrfKey) (*types.MsgRegisterVrfKeyResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	addr, _ := sdk.AccAddressFromBech32(msg.Operator)
	valAddr := sdk.ValAddress(addr)
	sv, err := m.k.staking.GetValidator(ctx, valAddr)
	if err != nil {
		return nil, errorsmod.Wrapf(types.ErrNotAuthority, "%s operates no x/staking validator: %s", msg.Operator, err)
	}
	consBz, err := sv.GetConsAddr()
	if err != nil {
		return nil, errorsmod.Wrapf(types.ErrNotAuthority, "consensus address of %s: %s", valAddr, err)
	}
	act, err := m.k.scheduleVrfKey(ctx, sdk.ConsAddress(consBz), valAddr.String(), msg.PublicKey)
	if err != nil {
		return nil, err
	}
	return &types.MsgRegisterVrfKeyResponse{ActivationHeight: act}, nil
}

// Beacon executes the block's beacon transaction. The PreBlocker already applied it (the
// randomness must be in place before BeginBlock and every transaction), and ProcessProposal
// verified it before the block was accepted; this only checks that the message is the beacon
// the PreBlocker applied at this height, so a MsgBeacon can never succeed anywhere else. The
// ante handler of x/validators/proposal refuses it outside FinalizeBlock.
func (m msgServer) Beacon(ctx context.Context, msg *types.MsgBeacon) (*types.MsgBeaconResponse, error) {
	sctx := sdk.UnwrapSDKContext(ctx)
	if sctx.ExecMode() != sdk.ExecModeFinalize {
		return nil, types.ErrBeaconNotSendable
	}
	if msg.Authority != BeaconAuthority() {
		return nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "authority %s is not the x/validators module account", msg.Authority)
	}
	height := sctx.BlockHeight()
	r, err := m.k.Randomness.Get(ctx, height)
	if err != nil {
		return nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "no beacon was applied at height %d", height)
	}
	if r.FromVrf {
		if !bytes.Equal(r.Proof, msg.Proof) {
			return nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "not the proof applied at height %d", height)
		}
		return &types.MsgBeaconResponse{}, nil
	}
	// No VRF output: the beacon self-registered the proposer's first key.
	cons, err := sdk.ConsAddressFromBech32(r.Proposer)
	if err != nil {
		return nil, err
	}
	rec, err := m.k.VrfKeys.Get(ctx, cons)
	if err != nil || !bytes.Equal(rec.NextPublicKey, msg.PublicKey) {
		return nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "the beacon at height %d registered no key %x", height, msg.PublicKey)
	}
	return &types.MsgBeaconResponse{}, nil
}
