package p2pcli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/p2p"
)

func TestIDCommandStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p2p.key")
	run := func() string {
		cmd := NewIDCmd(func(*cobra.Command) (string, error) { return path, nil })
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs(nil)
		require.NoError(t, cmd.Execute())
		return strings.TrimSpace(out.String())
	}
	first := run()
	id, err := peer.Decode(first)
	require.NoError(t, err)
	require.Equal(t, first, run())
	key, err := p2p.LoadOrCreateIdentity(path)
	require.NoError(t, err)
	want, err := peer.IDFromPrivateKey(key)
	require.NoError(t, err)
	require.Equal(t, want, id)
}
