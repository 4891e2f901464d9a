package localnet

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFreePortBaseSkipsBusyAndTakenBlocks(t *testing.T) {
	a := freePortBase(t, 4)
	require.GreaterOrEqual(t, a, testPortLow)
	require.Less(t, a+10*4, 32768, "port block must stay below the ephemeral range")
	require.True(t, portsFree(a, 4))

	// A second network of this process never gets the same block.
	b := freePortBase(t, 4)
	require.NotEqual(t, a, b)

	// A block with a busy port is skipped.
	t.Setenv("LOCALNET_TEST_PORT_BASE", fmt.Sprint(testPortLow+blockSize*testPortBlocks-blockSize*3))
	first := testPortLow + blockSize*testPortBlocks - blockSize*3
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", first+12))
	if err != nil {
		t.Skipf("cannot hold port %d for the test: %v", first+12, err)
	}
	defer l.Close()
	c := freePortBase(t, 2)
	require.NotEqual(t, first, c)
	require.False(t, portsFree(first, 2))
}

func TestHelpers(t *testing.T) {
	require.True(t, hasFlag([]string{"send", "--chain-id", "x"}, "--chain-id"))
	require.True(t, hasFlag([]string{"--chain-id=x"}, "--chain-id"))
	require.False(t, hasFlag([]string{"--chain-idx"}, "--chain-id"))
	require.Equal(t, `{"code":0}`, lastJSONLine("gas estimate: 1\n{\"code\":0}\n"))
	require.True(t, needsKeyring([]string{"tx", "bank"}))
	require.False(t, needsKeyring([]string{"query", "bank"}))
	require.Equal(t, "bc1", GovAddress()[:3])
}

// A --home (or --keyring-dir) the caller passes is the one buildchaind sees: cobra takes the
// last of repeated flags, so appending node i's home after it would override it.
func TestCLIArgsKeepCallersHome(t *testing.T) {
	n := &Net{Dir: "/net"}
	require.Equal(t, []string{"vrf", "show", "--home", "/net/node1"},
		n.cliArgs(0, []string{"vrf", "show", "--home", "/net/node1"}))
	require.Equal(t, []string{"vrf", "show", "--home=/x"}, n.cliArgs(2, []string{"vrf", "show", "--home=/x"}))
	require.Equal(t, []string{"status", "--home", "/net/node2"}, n.cliArgs(2, []string{"status"}))
	require.Equal(t, []string{"tx", "bank", "--home", "/net/node2", "--keyring-dir", "/net/node0"},
		n.cliArgs(2, []string{"tx", "bank"}))
	require.Equal(t, []string{"tx", "bank", "--keyring-dir", "/k", "--home", "/net/node2"},
		n.cliArgs(2, []string{"tx", "bank", "--keyring-dir", "/k"}))
	require.Equal(t, []string{"keys", "list", "--home", "/net/node0"}, n.cliArgs(0, []string{"keys", "list"}))
}

func TestFlagValue(t *testing.T) {
	require.Equal(t, "alice", flagValue([]string{"bank", "send", "--from", "alice", "x"}, "--from"))
	require.Equal(t, "bob", flagValue([]string{"--from=bob"}, "--from"))
	require.Equal(t, "", flagValue([]string{"--from"}, "--from"))
	require.Equal(t, "", flagValue([]string{"--fromx", "a"}, "--from"))
}

func TestSavedAddr(t *testing.T) {
	n := &Net{Dir: t.TempDir()}
	require.NoError(t, os.WriteFile(filepath.Join(n.Dir, "alice.key.json"),
		[]byte(`{"name":"alice","type":"local","address":"bc1n6kf8hkan5gzs2weyyj0p6wjyxukufkeg6qv04","mnemonic":"x"}`), 0o600))
	require.Equal(t, "bc1n6kf8hkan5gzs2weyyj0p6wjyxukufkeg6qv04", n.savedAddr("alice"))
	// Another key's file, a missing one, output that is not JSON: ask the keyring.
	require.NoError(t, os.WriteFile(filepath.Join(n.Dir, "bob.key.json"), []byte(`{"name":"alice","address":"bc1x"}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(n.Dir, "carol.key.json"), []byte("warning: x\n{}"), 0o600))
	require.Empty(t, n.savedAddr("bob"))
	require.Empty(t, n.savedAddr("carol"))
	require.Empty(t, n.savedAddr("dave"))
	require.Empty(t, n.savedAddr("../alice"))
}
