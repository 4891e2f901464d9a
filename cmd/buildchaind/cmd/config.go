package cmd

import (
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	serverconfig "github.com/cosmos/cosmos-sdk/server/config"

	appparams "github.com/buildchain/buildchain/app/params"
)

// initCometBFTConfig returns the CometBFT defaults with buildchain's overrides.
func initCometBFTConfig() *cmtcfg.Config {
	cfg := cmtcfg.DefaultConfig()
	// Build claims and reports are small; 1 s blocks keep the validation game responsive.
	cfg.Consensus.TimeoutCommit = time.Second
	return cfg
}

// initAppConfig returns the app.toml template and defaults: REST API with the OpenAPI
// document, and gRPC, are on by default so a fresh `buildchaind start` serves clients.
func initAppConfig() (string, interface{}) {
	srvCfg := serverconfig.DefaultConfig()
	// A node must have a minimum gas price; zero keeps localnet and tests free of fee arithmetic.
	srvCfg.MinGasPrices = "0" + appparams.BondDenom
	srvCfg.API.Enable = true
	srvCfg.API.Swagger = true
	srvCfg.API.EnableUnsafeCORS = false
	srvCfg.GRPC.Enable = true
	return serverconfig.DefaultConfigTemplate, *srvCfg
}
