package market

import (
	"fmt"

	autocliv1 "cosmossdk.io/api/cosmos/autocli/v1"

	"github.com/cosmos/cosmos-sdk/version"

	"github.com/buildchain/buildchain/x/market/types"
)

// AutoCLIOptions describes the CLI generated from the module's gRPC services.
func (am AppModule) AutoCLIOptions() *autocliv1.ModuleOptions {
	return &autocliv1.ModuleOptions{
		Query: &autocliv1.ServiceCommandDescriptor{
			Service: types.Query_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{RpcMethod: "Params", Use: "params", Short: "Query the market module parameters"},
				{RpcMethod: "Market", Use: "market [id]", Short: "Query a market", PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "id"}}},
				{RpcMethod: "MarketsByClaim", Use: "by-claim [claim-id]", Short: "Query the markets of a claim",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "claim_id"}}},
				{RpcMethod: "OpenMarkets", Use: "open", Short: "Query the markets not yet resolved"},
				{RpcMethod: "Predictions", Use: "predictions [market-id]", Short: "Query the predictions of a market",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "market_id"}}},
				{RpcMethod: "PredictionsByAccount", Use: "predictions-of [address]", Short: "Query the predictions of an account",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "address"}}},
			},
		},
		Tx: &autocliv1.ServiceCommandDescriptor{
			Service:              types.Msg_serviceDesc.ServiceName,
			EnhanceCustomCommand: true,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod:      "UpdateParams",
					Use:            "update-params-proposal [params]",
					Short:          "Submit a governance proposal to update the market params (all fields must be given)",
					Example:        fmt.Sprintf("%s tx market update-params-proposal \"$(%s query market params -o json | jq -c .params)\" --from alice", version.AppName, version.AppName),
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "params"}},
					GovProposal:    true,
				},
				// commit and reveal are hand-written (x/market/client/cli): commit computes the
				// hash and keeps the salt locally, reveal reads it back.
				{RpcMethod: "CommitPrediction", Skip: true},
				{RpcMethod: "RevealPrediction", Skip: true},
				{
					// note is positional: as a flag it would clash with the SDK's own --note tx flag.
					RpcMethod:      "AddEvidence",
					Use:            "evidence [market-id] [cid] [note]",
					Short:          "Attach evidence (e.g. the CID of a diff report) to an open market",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "market_id"}, {ProtoField: "cid"}, {ProtoField: "note"}},
				},
			},
		},
	}
}
