package claims

import (
	"fmt"

	autocliv1 "cosmossdk.io/api/cosmos/autocli/v1"

	"github.com/buildchain/buildchain/x/claims/types"
)

// appName is the binary named in examples (version.AppName is only set by release builds).
const appName = "buildchaind"

// AutoCLIOptions describes the CLI generated from the module's gRPC services.
func (am AppModule) AutoCLIOptions() *autocliv1.ModuleOptions {
	return &autocliv1.ModuleOptions{
		Query: &autocliv1.ServiceCommandDescriptor{
			Service: types.Query_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{RpcMethod: "Params", Use: "params", Short: "Query the claims module parameters"},
				{
					RpcMethod: "Claim", Use: "claim [id]", Short: "Query a claim by id",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "id"}},
				},
				{RpcMethod: "Claims", Use: "list", Short: "List claims (--status CLAIM_STATUS_VALID etc. to filter)"},
				{
					RpcMethod: "ClaimsByDerivation", Use: "by-derivation [derivation-cid]", Short: "List the claims about a derivation",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "derivation_cid"}},
				},
				{
					RpcMethod: "ClaimsByOutput", Use: "by-output [output-cid]", Short: "List the claims naming an output",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "output_cid"}},
				},
				{
					RpcMethod: "ClaimsByPublisher", Use: "by-publisher [address]", Short: "List a publisher's claims",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "publisher"}},
				},
				{
					RpcMethod: "ClaimsByValidator", Use: "by-validator [address]", Short: "List the claims a validator was assigned (--open-only: awaiting its report)",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "validator"}},
				},
				{
					RpcMethod: "VerifiedOutput", Use: "verified [derivation-cid]", Short: "Query the verified output of a derivation",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "derivation_cid"}},
				},
			},
		},
		Tx: &autocliv1.ServiceCommandDescriptor{
			Service:              types.Msg_serviceDesc.ServiceName,
			EnhanceCustomCommand: true,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod:      "UpdateParams",
					Use:            "update-params-proposal [params]",
					Short:          "Submit a governance proposal to update the claims params (all fields must be given)",
					Example:        fmt.Sprintf("%s tx claims update-params-proposal \"$(%s query claims params -o json | jq -c .params)\" --from alice", appName, appName),
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "params"}},
					GovProposal:    true,
				},
				// A claim and a build result are blind: the hand-written commands of
				// client/cli keep their salts (internal/saltfile) before sending. Open
				// reports are refused on chain (ErrOpenClaim): no command sends one.
				{RpcMethod: "SubmitClaim", Skip: true},
				{RpcMethod: "ReportBuild", Skip: true},
				{RpcMethod: "CommitBuild", Skip: true},
				{RpcMethod: "RevealBuild", Skip: true},
				{RpcMethod: "RevealClaim", Skip: true},
			},
		},
	}
}
