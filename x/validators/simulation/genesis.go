package simulation

import (
	"math/rand"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/address"
	"github.com/cosmos/cosmos-sdk/types/module"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"
	"github.com/cosmos/cosmos-sdk/x/simulation"

	"github.com/buildchain/buildchain/x/validators/types"
)

const (
	// OpWeightMsgUpdateParams is the simulation weight key of MsgUpdateParams proposals.
	OpWeightMsgUpdateParams = "op_weight_msg_update_params"
	// DefaultWeightMsgUpdateParams is its default weight.
	DefaultWeightMsgUpdateParams = 100
)

// RandomizedGenState writes a random, valid genesis state of the module.
func RandomizedGenState(simState *module.SimulationState) {
	gs := types.NewGenesisState(RandomParams(simState.Rand))
	simState.GenState[types.ModuleName] = simState.Cdc.MustMarshalJSON(gs)
}

// ProposalMsgs returns the module's gov proposal Msgs for simulations.
func ProposalMsgs() []simtypes.WeightedProposalMsg {
	return []simtypes.WeightedProposalMsg{
		simulation.NewWeightedProposalMsg(OpWeightMsgUpdateParams, DefaultWeightMsgUpdateParams, SimulateMsgUpdateParams),
	}
}

// SimulateMsgUpdateParams returns a MsgUpdateParams with random valid params from x/gov.
func SimulateMsgUpdateParams(r *rand.Rand, _ sdk.Context, _ []simtypes.Account) sdk.Msg {
	var authority sdk.AccAddress = address.Module("gov")
	return types.NewMsgUpdateParams(authority.String(), RandomParams(r))
}
