package cli

import (
	"bytes"
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/crypto/vrf"
)

func run(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestVrfInitShow(t *testing.T) {
	home := t.TempDir()
	_, err := run(t, NewVrfCmd(home), "show")
	require.Error(t, err, "no key yet")
	out, err := run(t, NewVrfCmd("/nonexistent"), "init", "--home", home)
	require.NoError(t, err)
	require.Contains(t, out, "created")
	k, err := vrf.LoadKeyFile(vrf.KeyFilePath(home))
	require.NoError(t, err)
	out, err = run(t, NewVrfCmd(home), "init")
	require.NoError(t, err)
	require.Contains(t, out, "existing", "init keeps an existing key")
	out, err = run(t, NewVrfCmd(home), "show")
	require.NoError(t, err)
	pk, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	require.NoError(t, err)
	require.Equal(t, []byte(k.Public()), pk)

	initCmd := &cobra.Command{Use: "init", RunE: func(*cobra.Command, []string) error { return nil }}
	initCmd.Flags().String("home", "", "")
	home2 := t.TempDir()
	AttachToInit(initCmd, home2)
	_, err = run(t, initCmd)
	require.NoError(t, err)
	_, err = os.Stat(vrf.KeyFilePath(home2))
	require.NoError(t, err)
}
