package keeper

import (
	"context"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/x/claims/types"
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

// SubmitClaim takes claim_fee and the deposit from the publisher in one transfer to the module
// account (the deposit stays locked there; the fee is forwarded to the fee collector with the
// rest of the block's claim fees in EndBlock, so distribution sees it at the next BeginBlock
// as if it had been paid directly) and queues the claim for assignment at the end of the block.
func (m msgServer) SubmitClaim(ctx context.Context, msg *types.MsgSubmitClaim) (*types.MsgSubmitClaimResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	params, err := m.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if msg.Deposit.Denom != params.MinDeposit.Denom {
		return nil, errorsmod.Wrapf(types.ErrWrongDenom, "deposit must be in %s, got %s", params.MinDeposit.Denom, msg.Deposit.Denom)
	}
	if msg.Deposit.IsLT(params.MinDeposit) {
		return nil, errorsmod.Wrapf(types.ErrInsufficientDepos, "deposit %s is below min_deposit %s", msg.Deposit, params.MinDeposit)
	}
	pub, _ := sdk.AccAddressFromBech32(msg.Publisher)
	// One transfer: bank checks the spendable balance against the total (an insufficient
	// balance fails with sdkerrors.ErrInsufficientFunds naming both amounts).
	need := sdk.NewCoins(msg.Deposit).Add(params.ClaimFee)
	if err := m.k.bank.SendCoinsFromAccountToModule(ctx, pub, types.ModuleName, need); err != nil {
		return nil, errorsmod.Wrapf(err, "locking deposit + claim fee %s", need)
	}
	if params.ClaimFee.IsPositive() {
		if err := m.k.addBlockFee(ctx, params.ClaimFee); err != nil {
			return nil, err
		}
	}
	id, err := m.k.NextClaimID.Next(ctx)
	if err != nil {
		return nil, err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	c := types.Claim{
		Id: id, Publisher: msg.Publisher, DerivationCid: msg.DerivationCid,
		OutputCommitment: msg.OutputCommitment, System: msg.System, Deposit: msg.Deposit, Fee: params.ClaimFee, Status: types.CLAIM_STATUS_PENDING,
		SubmittedHeight: height, PendingSince: height, DepositLocked: true,
	}
	if err := m.k.indexNew(ctx, c); err != nil {
		return nil, err
	}
	if err := m.k.Pending.Set(ctx, id); err != nil {
		return nil, err
	}
	ev, err := (&types.EventClaimSubmitted{
		ClaimId: id, Publisher: c.Publisher, DerivationCid: c.DerivationCid, System: c.System, Deposit: c.Deposit,
	}).ToEvent()
	if err != nil {
		return nil, err
	}
	sdk.UnwrapSDKContext(ctx).EventManager().EmitEvent(ev)
	return &types.MsgSubmitClaimResponse{ClaimId: id}, nil
}

// indexNew stores a claim with its permanent indexes.
func (k Keeper) indexNew(ctx context.Context, c types.Claim) error {
	pub, err := sdk.AccAddressFromBech32(c.Publisher)
	if err != nil {
		return err
	}
	for _, err := range []error{
		k.Claims.Set(ctx, c.Id, c),
		k.ByDerivation.Set(ctx, collections.Join(c.DerivationCid, c.Id)),
		k.ByPublisher.Set(ctx, collections.Join(pub, c.Id)),
	} {
		if err != nil {
			return err
		}
	}
	if !c.Revealed() { // a claim is indexed by output once revealed
		return nil
	}
	return k.ByOutput.Set(ctx, collections.Join(c.OutputCid, c.Id))
}

// ReportBuild refuses every open report with ErrOpenClaim (MsgReportBuild.ValidateBasic):
// results are committed (CommitBuild) and revealed after the last commit (RevealBuild).
func (m msgServer) ReportBuild(_ context.Context, msg *types.MsgReportBuild) (*types.MsgReportBuildResponse, error) {
	return nil, msg.ValidateBasic()
}

// CommitBuild records an assigned validator's commitment to its result for a round of a blind
// claim and draws whether another round is played (README.md §Blind rounds).
func (m msgServer) CommitBuild(ctx context.Context, msg *types.MsgCommitBuild) (*types.MsgCommitBuildResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	c, err := m.k.commit(ctx, msg)
	if err != nil {
		return nil, err
	}
	return &types.MsgCommitBuildResponse{Status: c.Status.Short()}, nil
}

// RevealBuild opens a committed validator's result; the claim is judged once nothing else is
// awaited. A reveal that does not open the commitment is refused (ErrRevealMismatch).
func (m msgServer) RevealBuild(ctx context.Context, msg *types.MsgRevealBuild) (*types.MsgRevealBuildResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	if _, err := m.k.revealBuild(ctx, msg); err != nil {
		return nil, err
	}
	c, err := m.k.GetClaim(ctx, msg.ClaimId)
	if err != nil {
		return nil, err
	}
	return &types.MsgRevealBuildResponse{Status: c.Status.Short()}, nil
}

// RevealClaim opens the publisher's committed output; the claim is judged once nothing else
// is awaited. A reveal that does not open the commitment is refused (ErrRevealMismatch).
func (m msgServer) RevealClaim(ctx context.Context, msg *types.MsgRevealClaim) (*types.MsgRevealClaimResponse, error) {
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	if _, err := m.k.revealClaim(ctx, msg); err != nil {
		return nil, err
	}
	c, err := m.k.GetClaim(ctx, msg.ClaimId)
	if err != nil {
		return nil, err
	}
	return &types.MsgRevealClaimResponse{Status: c.Status.Short()}, nil
}
