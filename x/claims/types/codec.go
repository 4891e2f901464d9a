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
	cdc.RegisterConcrete(Params{}, "buildchain/x/claims/Params", nil)
	legacy.RegisterAminoMsg(cdc, &MsgUpdateParams{}, "buildchain/x/claims/MsgUpdateParams")
	legacy.RegisterAminoMsg(cdc, &MsgSubmitClaim{}, "buildchain/MsgSubmitClaim")
	legacy.RegisterAminoMsg(cdc, &MsgReportBuild{}, "buildchain/MsgReportBuild")
	legacy.RegisterAminoMsg(cdc, &MsgCommitBuild{}, "buildchain/MsgCommitBuild")
	legacy.RegisterAminoMsg(cdc, &MsgRevealBuild{}, "buildchain/MsgRevealBuild")
	legacy.RegisterAminoMsg(cdc, &MsgRevealClaim{}, "buildchain/MsgRevealClaim")
}

// RegisterInterfaces registers the module's Msgs with the interface registry.
func RegisterInterfaces(registry codectypes.InterfaceRegistry) {
	registry.RegisterImplementations((*sdk.Msg)(nil),
		&MsgUpdateParams{},
		&MsgSubmitClaim{},
		&MsgReportBuild{},
		&MsgCommitBuild{},
		&MsgRevealBuild{},
		&MsgRevealClaim{},
	)
	msgservice.RegisterMsgServiceDesc(registry, &_Msg_serviceDesc)
}
