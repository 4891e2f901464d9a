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
				{
					RpcMethod: "SubmitClaim",
					Use:       "submit [derivation-cid] [output-cid]",
					Short:     "Claim openly that output-cid is the build of derivation-cid; pays claim_fee and locks --deposit (buildchaind publish submits blind claims)",
					Example:   fmt.Sprintf("%s tx claims submit bagu...drv bafy...out --deposit 10000000ubct --system x86_64-linux --from alice", appName),
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "derivation_cid"}, {ProtoField: "output_cid"},
					},
					FlagOptions: map[string]*autocliv1.FlagOptions{
						"system":  {Name: "system", Usage: "system the derivation builds on", DefaultValue: "x86_64-linux"},
						"deposit": {Name: "deposit", Usage: "deposit to lock (>= min_deposit), e.g. 10000000ubct"},
					},
				},
				{
					RpcMethod: "ReportBuild",
					Use:       "report [claim-id] [round] [output-cid] [build-time-ms]",
					Short:     "Report the output the --from validator built for its assignment",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "claim_id"}, {ProtoField: "round"}, {ProtoField: "output_cid"}, {ProtoField: "build_time_ms"},
					},
				},
				{
					RpcMethod: "CommitBuild",
					Use:       "commit-build [claim-id] [round] [commitment-hex]",
					Short:     "Commit the --from validator to its result for a round of a blind claim (the sidecar computes the commitment: x/claims/types.BuildCommitment)",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "claim_id"}, {ProtoField: "round"}, {ProtoField: "commitment"},
					},
				},
				{
					RpcMethod: "RevealBuild",
					Use:       "reveal-build [claim-id] [round] [output-cid] [build-time-ms] [salt-hex]",
					Short:     "Reveal the --from validator's committed result once the claim is revealing",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "claim_id"}, {ProtoField: "round"}, {ProtoField: "output_cid"}, {ProtoField: "build_time_ms"}, {ProtoField: "salt"},
					},
				},
				{
					RpcMethod: "RevealClaim",
					Use:       "reveal-claim [claim-id] [output-cid] [salt-hex]",
					Short:     "Reveal the --from publisher's committed output once the claim is revealing (buildchaind publish does it itself)",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "claim_id"}, {ProtoField: "output_cid"}, {ProtoField: "salt"},
					},
				},
			},
		},
	}
}
