package validators

import (
	"fmt"

	autocliv1 "cosmossdk.io/api/cosmos/autocli/v1"

	"github.com/buildchain/buildchain/x/validators/types"
)

// appName is the binary named in examples (version.AppName is only set by release builds).
const appName = "buildchaind"

// AutoCLIOptions describes the CLI generated from the module's gRPC services.
func (am AppModule) AutoCLIOptions() *autocliv1.ModuleOptions {
	return &autocliv1.ModuleOptions{
		Query: &autocliv1.ServiceCommandDescriptor{
			Service: types.Query_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{RpcMethod: "Params", Use: "params", Short: "Query the validators module parameters"},
				{
					RpcMethod: "Validator", Use: "validator [operator]", Short: "Query one build validator",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "operator"}},
				},
				{RpcMethod: "Validators", Use: "list", Short: "List build validators"},
				{
					RpcMethod: "ValidatorsBySystem", Use: "by-system [system]", Short: "List the build validators of a system",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "system"}},
				},
				{
					RpcMethod: "Randomness", Use: "randomness [height]", Short: "Query the VRF beacon output at a height (0: latest)",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "height"}},
				},
				{RpcMethod: "VrfKeys", Use: "vrf-keys", Short: "List the authorities' VRF keys"},
			},
		},
		Tx: &autocliv1.ServiceCommandDescriptor{
			Service:              types.Msg_serviceDesc.ServiceName,
			EnhanceCustomCommand: true,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod:      "UpdateParams",
					Use:            "update-params-proposal [params]",
					Short:          "Submit a governance proposal to update the validators params (all fields must be given)",
					Example:        fmt.Sprintf("%s tx validators update-params-proposal \"$(%s query validators params -o json | jq -c .params)\" --from alice", appName, appName),
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "params"}},
					GovProposal:    true,
				},
				{
					RpcMethod: "RegisterValidator",
					Use:       "register [bond] [system,...]",
					Short:     "Register the --from account as a build validator, locking bond (>= min_bond)",
					Example:   fmt.Sprintf("%s tx validators register 1000000000ubct x86_64-linux --from builder1", appName),
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "bond"}, {ProtoField: "systems", Varargs: true},
					},
				},
				{
					RpcMethod: "UpdateValidator",
					Use:       "update",
					Short:     "Replace the supported systems (--systems) and/or add bond (--add-bond)",
					Example:   fmt.Sprintf("%s tx validators update --systems x86_64-linux,aarch64-linux --add-bond 5000000ubct --from builder1", appName),
				},
				{
					RpcMethod: "UnbondValidator", Use: "unbond",
					Short: "Stop taking assignments; the bond returns after unbonding_blocks",
				},
				{RpcMethod: "Unjail", Use: "unjail", Short: "Re-activate a jailed build validator after its jail time"},
				{
					RpcMethod: "RegisterVrfKey", Use: "register-vrf-key [public-key-base64]",
					Short:          "Register the VRF key of the x/staking validator operated by --from (see `vrf show`)",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "public_key"}},
				},
				// Only block proposers put beacons in blocks (x/validators/proposal).
				{RpcMethod: "Beacon", Skip: true},
			},
		},
	}
}
