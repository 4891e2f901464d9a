package buildcli

// The toolchains `bootstrap --toolchain NAME` knows: each package registers itself with
// node/toolchain in its init function. Add a toolchain here with one import line.
import (
	_ "github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
	_ "github.com/buildchain/buildchain/node/toolchain/gotoolchain"
	_ "github.com/buildchain/buildchain/node/toolchain/rusttoolchain"
)
