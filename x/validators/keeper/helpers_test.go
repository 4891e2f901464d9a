package keeper_test

import authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

func authAddr(module string) []byte { return authtypes.NewModuleAddress(module) }
