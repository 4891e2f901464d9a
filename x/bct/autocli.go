package bct

import (
	"fmt"

	autocliv1 "cosmossdk.io/api/cosmos/autocli/v1"

	"github.com/cosmos/cosmos-sdk/version"

	"github.com/buildchain/buildchain/x/bct/types"
)

// AutoCLIOptions describes the CLI generated from the module's gRPC services.
func (am AppModule) AutoCLIOptions() *autocliv1.ModuleOptions {
	return &autocliv1.ModuleOptions{
		Query: &autocliv1.ServiceCommandDescriptor{
			Service: types.Query_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{RpcMethod: "Params", Use: "params", Short: "Query the bct module parameters"},
				{RpcMethod: "CurrentPeriod", Use: "period", Short: "Query the current payment period and its last height"},
				{RpcMethod: "PeriodRecords", Use: "periods", Short: "Query finished payment periods (newest first)"},
				{RpcMethod: "ValidatorStats", Use: "validator [address]", Short: "Query a validator's rewardable build time and efficiency",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "address"}}},
				{RpcMethod: "Inflation", Use: "inflation", Short: "Query the inflation rate and this period's mint"},
				{RpcMethod: "Supply", Use: "supply", Short: "Query the ubct supply, lifetime mint and burns, dev fund balance"},
			},
		},
		Tx: &autocliv1.ServiceCommandDescriptor{
			Service:              types.Msg_serviceDesc.ServiceName,
			EnhanceCustomCommand: true,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod:      "UpdateParams",
					Use:            "update-params-proposal [params]",
					Short:          "Submit a governance proposal to update the bct params (all fields must be given)",
					Example:        fmt.Sprintf("%s tx bct update-params-proposal \"$(%s query bct params -o json | jq -c .params)\" --from alice", version.AppName, version.AppName),
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "params"}},
					GovProposal:    true,
				},
			},
		},
	}
}
