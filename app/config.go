package app

import (
	"os"
	"path/filepath"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
)

// Name is the application name, also the binary name.
const Name = "buildchaind"

// DefaultNodeHome is the default home of the node and the CLI ($HOME/.buildchain).
var DefaultNodeHome = defaultNodeHome()

func defaultNodeHome() string {
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".buildchain")
}

// SetConfig sets the SDK's process-global address prefixes to "bc" and seals them. It must run
// before any address is parsed or printed; init does it so every importer of app (binary,
// tests) agrees.
func SetConfig() {
	cfg := sdk.GetConfig()
	if cfg.GetBech32AccountAddrPrefix() == appparams.Bech32Prefix {
		return
	}
	cfg.SetBech32PrefixForAccount(appparams.Bech32Prefix, appparams.Bech32PrefixAccPub)
	cfg.SetBech32PrefixForValidator(appparams.Bech32PrefixValAddr, appparams.Bech32PrefixValPub)
	cfg.SetBech32PrefixForConsensusNode(appparams.Bech32PrefixConsAddr, appparams.Bech32PrefixConsPub)
	cfg.Seal()
}

func init() {
	SetConfig()
	// sdk.DefaultBondDenom is read by SDK defaults (staking, gov, crisis genesis); make them ubct.
	sdk.DefaultBondDenom = appparams.BondDenom
}
