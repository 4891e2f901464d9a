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
	cdc.RegisterConcrete(Params{}, "buildchain/x/validators/Params", nil)
	legacy.RegisterAminoMsg(cdc, &MsgUpdateParams{}, "buildchain/x/validators/MsgUpdateParams")
	legacy.RegisterAminoMsg(cdc, &MsgRegisterValidator{}, "buildchain/MsgRegisterValidator")
	legacy.RegisterAminoMsg(cdc, &MsgUpdateValidator{}, "buildchain/MsgUpdateValidator")
	legacy.RegisterAminoMsg(cdc, &MsgUnbondValidator{}, "buildchain/MsgUnbondValidator")
	legacy.RegisterAminoMsg(cdc, &MsgUnjail{}, "buildchain/MsgUnjail")
	legacy.RegisterAminoMsg(cdc, &MsgRegisterVrfKey{}, "buildchain/MsgRegisterVrfKey")
	legacy.RegisterAminoMsg(cdc, &MsgBeacon{}, "buildchain/x/validators/MsgBeacon")
}

// RegisterInterfaces registers the module's Msgs with the interface registry.
func RegisterInterfaces(registry codectypes.InterfaceRegistry) {
	registry.RegisterImplementations((*sdk.Msg)(nil),
		&MsgUpdateParams{},
		&MsgRegisterValidator{},
		&MsgUpdateValidator{},
		&MsgUnbondValidator{},
		&MsgUnjail{},
		&MsgRegisterVrfKey{},
		&MsgBeacon{},
	)
	msgservice.RegisterMsgServiceDesc(registry, &_Msg_serviceDesc)
}
