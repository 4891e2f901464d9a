package buildcli

import (
	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/storefs"
)

// SubstituteBuild builds drv the way `build` does, but takes the output of any derivation
// the chain has verified from peers (hash-checked) instead of running its builder.
// substituted reports whether drv itself came from the network.
type SubstituteBuild func(cmd *cobra.Command, s *storefs.Store, b *builder.Builder, drv cid.Cid, opts builder.Options) (res *builder.Result, substituted bool, err error)

// substitution is the network cache `build` consults first; nil means local builds only.
// It is a hook the binary sets, not an import, so the build tools do not depend on the
// chain client and keep working as a plain local cache.
var substitution struct {
	build    SubstituteBuild
	addFlags func(*cobra.Command)
}

// SetSubstituter makes `build` ask the network cache first (unless --no-substitute or
// --check). addFlags adds the flags the substituter reads (chain node, p2p). Call it
// before Commands.
func SetSubstituter(build SubstituteBuild, addFlags func(*cobra.Command)) {
	substitution.build, substitution.addFlags = build, addFlags
}
