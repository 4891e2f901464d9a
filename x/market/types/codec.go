package types

import (
	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/codec/legacy"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/msgservice"
)

// RegisterLegacyAminoCodec registers the module's concrete types for amino JSON signing
// (ledger devices sign amino JSON).
func RegisterLegacyAminoCodec(cdc *codec.LegacyAmino) {
	cdc.RegisterConcrete(Params{}, "buildchain/x/market/Params", nil)
	legacy.RegisterAminoMsg(cdc, &MsgUpdateParams{}, "buildchain/x/market/MsgUpdateParams")
	legacy.RegisterAminoMsg(cdc, &MsgCommitPrediction{}, "buildchain/x/market/MsgCommitPrediction")
	legacy.RegisterAminoMsg(cdc, &MsgRevealPrediction{}, "buildchain/x/market/MsgRevealPrediction")
	legacy.RegisterAminoMsg(cdc, &MsgAddEvidence{}, "buildchain/x/market/MsgAddEvidence")
}

// RegisterInterfaces registers the module's Msgs with the interface registry.
func RegisterInterfaces(registry codectypes.InterfaceRegistry) {
	registry.RegisterImplementations((*sdk.Msg)(nil),
		&MsgUpdateParams{},
		&MsgCommitPrediction{},
		&MsgRevealPrediction{},
		&MsgAddEvidence{},
	)
	msgservice.RegisterMsgServiceDesc(registry, &_Msg_serviceDesc)
}
