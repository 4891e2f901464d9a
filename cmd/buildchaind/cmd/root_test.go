package cmd_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	svrcmd "github.com/cosmos/cosmos-sdk/server/cmd"

	"github.com/buildchain/buildchain/cmd/buildchaind/cmd"
)

// run executes one buildchaind command line in-process and returns its stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := cmd.NewRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := svrcmd.Execute(root, "", t.TempDir())
	return out.String(), err
}

func TestCommandTree(t *testing.T) {
	root := cmd.NewRootCmd()
	for _, path := range [][]string{
		{"init"}, {"start"}, {"status"}, {"version"}, {"export"},
		{"keys", "add"}, {"keys", "list"},
		{"genesis", "add-genesis-account"}, {"genesis", "gentx"}, {"genesis", "collect-gentxs"}, {"genesis", "validate"},
		{"tx", "bank", "send"}, {"tx", "staking", "delegate"}, {"tx", "gov", "submit-proposal"},
		{"query", "bank", "balances"}, {"query", "staking", "validators"},
		// autocli commands of buildchain's modules.
		{"query", "validators", "params"}, {"query", "claims", "params"},
		{"query", "market", "params"}, {"query", "bct", "params"},
	} {
		c, rest, err := root.Find(path)
		require.NoError(t, err, "command %v", path)
		require.Empty(t, rest, "command %v not found", path)
		require.Equal(t, path[len(path)-1], c.Name(), "command %v", path)
	}
}

// init, keys and the genesis commands build a valid single-validator genesis with bc1
// addresses and ubct as the staking denom; malformed input is refused.
func TestInitAndGenesisCommands(t *testing.T) {
	home := t.TempDir()
	h := "--home=" + home
	_, err := run(t, "init", "n0", "--chain-id", "buildchain-1", h)
	require.NoError(t, err)
	_, err = run(t, "keys", "add", "alice", "--keyring-backend", "test", h)
	require.NoError(t, err)
	addr, err := run(t, "keys", "show", "alice", "-a", "--keyring-backend", "test", h)
	require.NoError(t, err)
	addr = strings.TrimSpace(addr)
	require.True(t, strings.HasPrefix(addr, "bc1"), "address %q", addr)

	out, err := run(t, "genesis", "add-genesis-account", "bc1notanaddress", "5ubct", h)
	require.Error(t, err)
	// A command's failure is not a usage error: no flag list after it.
	require.NotContains(t, out, "Usage:")
	out, err = run(t, "genesis", "add-genesis-account", h)
	require.Error(t, err)
	require.Contains(t, out, "Usage:", "a wrong argument count is a usage error")
	_, err = run(t, "genesis", "add-genesis-account", addr, "notacoin", h)
	require.Error(t, err)

	_, err = run(t, "genesis", "add-genesis-account", addr, "1000000000000ubct", h)
	require.NoError(t, err)
	_, err = run(t, "genesis", "gentx", "alice", "10000000000ubct", "--chain-id", "buildchain-1", "--keyring-backend", "test", h)
	require.NoError(t, err)
	_, err = run(t, "genesis", "collect-gentxs", h)
	require.NoError(t, err)
	_, err = run(t, "genesis", "validate", h)
	require.NoError(t, err)

	genFile := filepath.Join(home, "config", "genesis.json")
	bz, err := os.ReadFile(genFile)
	require.NoError(t, err)
	var gen struct {
		AppState map[string]json.RawMessage `json:"app_state"`
	}
	require.NoError(t, json.Unmarshal(bz, &gen))
	for _, m := range []string{"validators", "claims", "market", "bct", "auth", "bank", "staking", "gov", "slashing", "distribution", "upgrade", "consensus", "genutil"} {
		require.Contains(t, gen.AppState, m)
	}
	require.NotContains(t, gen.AppState, "mint", "inflation belongs to x/bct")
	require.Contains(t, string(gen.AppState["staking"]), `"bond_denom": "ubct"`)

	// A genesis with invalid module params is refused by validate.
	var claims map[string]any
	require.NoError(t, json.Unmarshal(gen.AppState["claims"], &claims))
	claims["params"].(map[string]any)["max_rounds"] = 0
	gen.AppState["claims"], err = json.Marshal(claims)
	require.NoError(t, err)
	var full map[string]any
	require.NoError(t, json.Unmarshal(bz, &full))
	full["app_state"] = gen.AppState
	bad, err := json.Marshal(full)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(genFile, bad, 0o644))
	_, err = run(t, "genesis", "validate", h)
	require.Error(t, err)
	require.Contains(t, err.Error(), "max_rounds")
}
