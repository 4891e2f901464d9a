package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// exportedGenesis is the part of `buildchaind export` output compared here.
type exportedGenesis struct {
	InitialHeight int64                      `json:"initial_height"`
	AppState      map[string]json.RawMessage `json:"app_state"`
}

func export(t *testing.T, net *localnet.Net, file string) exportedGenesis {
	t.Helper()
	net.MustCLI(t, "export", "--output-document", file)
	bz, err := os.ReadFile(file)
	require.NoError(t, err)
	var g exportedGenesis
	require.NoError(t, json.Unmarshal(bz, &g))
	require.NotEmpty(t, g.AppState)
	return g
}

// Exporting a chain's state and starting a chain from it gives the same state.
func TestGenesisExportImportSameState(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a network")
	}
	net := localnet.Start(t, localnet.Options{Nodes: 1})
	bob := net.Addr(t, "bob")
	res := net.Tx(t, "bank", "send", "alice", bob, "777"+denom)
	require.Zero(t, res.Code, res.RawLog)
	bobBalance := balanceREST(t, net, 0, bob)
	// A VRF key registered at genesis is pending until vrf_key_activation_delay blocks later.
	// Export after it is active: otherwise the imported chain activates it while it runs and
	// the two exports differ by that block's work, not by the export/import.
	eventually(t, 60*time.Second, "the genesis VRF keys to activate", func() bool {
		return noPendingVRFKeys(t, net)
	})

	out, err := net.Script("stop")
	require.NoError(t, err, out)
	dir := t.TempDir()
	first := export(t, net, filepath.Join(dir, "export1.json"))

	// Import: wipe the node's data, replace its genesis with the export, start it again.
	net.MustCLI(t, "comet", "unsafe-reset-all")
	exportedFile := filepath.Join(dir, "export1.json")
	bz, err := os.ReadFile(exportedFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(net.Home(0), "config", "genesis.json"), bz, 0o644))
	net.StartNode(t, 0)
	net.WaitHeight(t, 0, first.InitialHeight+1, 60*time.Second)

	// The imported chain serves the exported state...
	require.True(t, balanceREST(t, net, 0, bob).Equal(bobBalance), "bob's balance changed by export/import")
	require.True(t, bobBalance.GT(sdkmath.ZeroInt()))

	// ...and exports it again unchanged.
	out, err = net.Script("stop")
	require.NoError(t, err, out)
	second := export(t, net, filepath.Join(dir, "export2.json"))
	require.Equal(t, len(first.AppState), len(second.AppState))
	for mod, bz := range first.AppState {
		a, b := normalise(t, mod, bz), normalise(t, mod, second.AppState[mod])
		require.JSONEq(t, a, b, "module %s differs after export/import", mod)
	}
}

// noPendingVRFKeys reports whether every authority's VRF key is active (none waits for its
// activation height).
func noPendingVRFKeys(t *testing.T, net *localnet.Net) bool {
	t.Helper()
	var res struct {
		VrfKeys []struct {
			NextPublicKey string `json:"next_public_key"`
		} `json:"vrf_keys"`
	}
	require.NoError(t, json.Unmarshal([]byte(net.MustCLI(t, "query", "validators", "vrf-keys", "-o", "json")), &res))
	require.NotEmpty(t, res.VrfKeys)
	for _, k := range res.VrfKeys {
		if k.NextPublicKey != "" {
			return false
		}
	}
	return true
}

// perBlockFields are top-level genesis fields that advance with every block by design, so two
// exports at different heights differ there: the VRF beacon's latest output (x/validators) and
// x/slashing's liveness window.
var perBlockFields = map[string][]string{
	"validators": {"last_randomness", "last_randomness_height"},
	"slashing":   {"missed_blocks"},
}

// normalise drops the per-block fields of a module's genesis (see perBlockFields).
func normalise(t *testing.T, mod string, bz json.RawMessage) string {
	t.Helper()
	if mod != "slashing" && perBlockFields[mod] == nil {
		return string(bz)
	}
	var g map[string]any
	require.NoError(t, json.Unmarshal(bz, &g))
	for _, f := range perBlockFields[mod] {
		delete(g, f)
	}
	if infos, ok := g["signing_infos"].([]any); ok {
		for _, in := range infos {
			if m, ok := in.(map[string]any); ok {
				if si, ok := m["validator_signing_info"].(map[string]any); ok {
					// The position in the liveness window.
					delete(si, "index_offset")
				}
			}
		}
	}
	out, err := json.Marshal(g)
	require.NoError(t, err)
	return string(out)
}
