package nodecli

import (
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// Building the command tree catches flag clashes with the SDK's tx flags
// (cobra panics on a redefined flag).
func TestCommandsBuild(t *testing.T) {
	names := map[string]bool{}
	for _, c := range Commands() {
		names[c.Name()] = true
		require.NotPanics(t, func() { c.Flags() })
	}
	require.Equal(t, map[string]bool{"node": true, "publish": true, "verify": true, "install": true, "go": true, "cargo": true, "nix": true}, names)
	for _, f := range []string{"claim-output", "deposit", "wait", "from", "store", "peer"} {
		require.NotNil(t, PublishCmd().Flags().Lookup(f), f)
	}
	for _, c := range []*cobra.Command{GoCmd(), CargoCmd()} {
		build, _, err := c.Find([]string{"build"})
		require.NoError(t, err)
		for _, f := range []string{"publish", "no-substitute", "deposit", "wait", "from", "store", "peer", "dir", "verbose"} {
			require.NotNil(t, build.Flags().Lookup(f), "%s build --%s", c.Name(), f)
		}
		require.Equal(t, build.Flags().Lookup("verbose"), build.Flags().ShorthandLookup("v"))
	}
}
