package nodecli

import (
	"testing"

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
	require.Equal(t, map[string]bool{"node": true, "publish": true, "verify": true, "install": true, "go": true, "nix": true}, names)
	for _, f := range []string{"claim-output", "deposit", "wait", "from", "store", "peer"} {
		require.NotNil(t, PublishCmd().Flags().Lookup(f), f)
	}
}
