package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cosmossdk.io/log"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/ipfs/go-cid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/cosmos/cosmos-sdk/client/grpc/cmtservice"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	txtypes "github.com/cosmos/cosmos-sdk/types/tx"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"

	"github.com/buildchain/buildchain/app"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	valtypes "github.com/buildchain/buildchain/x/validators/types"
)

// TestClientsOnLocalnet checks the chain from the point of view of standard Cosmos clients
// on one shared 2-authority localnet (one network keeps the added CI time small): every
// transaction of every block decodes with the SDK's tx decoder and the VRF beacon executes with
// code 0; CosmJS reads, searches, sends and submits a claim; the routes Ping.pub reads answer
// over REST (and gRPC); the shipped chain-registry and Ping.pub files match the chain; and
// CometBFT, the SDK and the sidecar expose their Prometheus metrics.
func TestClientsOnLocalnet(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a network")
	}
	// One build validator (alice) with its sidecar, as `make run` has, when the machine can
	// run one (root and FUSE, as in CI), so that the sidecar's metrics are scraped too.
	builders := 0
	if _, err := os.Stat("/dev/fuse"); err == nil && os.Geteuid() == 0 {
		builders = 1
	}
	net := localnet.New(t, localnet.Options{Nodes: 2})
	t.Cleanup(func() {
		if t.Failed() {
			dumpTails(t, net.Dir, "node0.log", "builder0.log")
		}
		if out, err := net.Script("stop"); err != nil {
			t.Logf("localnet stop: %v\n%s", err, out)
		}
	})
	if out, err := net.ScriptEnv([]string{fmt.Sprintf("LOCALNET_BUILDERS=%d", builders)}, "start", "2"); err != nil {
		t.Fatalf("localnet start: %v\n%s", err, out)
	}

	t.Run("EveryTxDecodes", func(t *testing.T) { testEveryTxDecodes(t, net) })
	t.Run("CosmJS", func(t *testing.T) { testCosmJS(t, net) })
	t.Run("ExplorerRoutes", func(t *testing.T) { testExplorerRoutes(t, net) })
	t.Run("ChainRegistry", func(t *testing.T) { testChainRegistry(t, net) })
	t.Run("Metrics", func(t *testing.T) { testMetrics(t, net, builders) })
}

// testMetrics scrapes, in Prometheus text format (parsed with expfmt's parser), CometBFT's
// metrics (config.toml instrumentation, port base+6), the SDK's telemetry (app.toml
// [telemetry], REST /metrics?format=prometheus) and the sidecar's (/metrics on the builder's
// port slot +1), and finds the named series of each.
func testMetrics(t *testing.T, net *localnet.Net, builders int) {
	scrape := func(url string) map[string]*dto.MetricFamily {
		t.Helper()
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, url)
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		require.NoError(t, err, url)
		return fams
	}
	value := func(f *dto.MetricFamily) float64 {
		m := f.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		}
		return m.GetUntyped().GetValue()
	}
	want := func(fams map[string]*dto.MetricFamily, url string, names ...string) {
		t.Helper()
		for _, n := range names {
			f, ok := fams[n]
			require.True(t, ok, "%s has no series %s", url, n)
			require.NotEmpty(t, f.GetMetric(), "%s: %s", url, n)
		}
	}

	comet := fmt.Sprintf("http://127.0.0.1:%d/metrics", net.PortBase+6)
	fams := scrape(comet)
	want(fams, comet, "cometbft_consensus_height", "cometbft_consensus_validators", "cometbft_consensus_num_txs",
		"cometbft_p2p_peers", "cometbft_mempool_size", "cometbft_state_block_processing_time")
	require.Greater(t, value(fams["cometbft_consensus_height"]), 1.0)
	require.GreaterOrEqual(t, value(fams["cometbft_p2p_peers"]), 1.0)

	sdk := net.RESTAddr(0) + "/metrics?format=prometheus"
	fams = scrape(sdk)
	want(fams, sdk, "tx_count", "tx_successful", "go_goroutines")

	if builders == 0 {
		t.Log("no sidecar on this machine (needs root and /dev/fuse): sidecar metrics not scraped")
		return
	}
	side := fmt.Sprintf("http://127.0.0.1:%d/metrics", net.PortBase+10*net.Nodes+1)
	fams = scrape(side)
	want(fams, side, "buildchain_sidecar_last_height", "buildchain_sidecar_builds_total",
		"buildchain_sidecar_fetch_bytes_total", "buildchain_sidecar_fetch_seconds", "buildchain_sidecar_rounds_total",
		"buildchain_sidecar_predictions_total", "buildchain_sidecar_assignments_total")
	require.Greater(t, value(fams["buildchain_sidecar_last_height"]), 1.0)
	labels := map[string]bool{}
	for _, m := range fams["buildchain_sidecar_rounds_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			labels[l.GetName()+"="+l.GetValue()] = true
		}
	}
	require.True(t, labels["result=reported"] && labels["result=closed"] && labels["result=failed"], "rounds_total labels: %v", labels)
}

// testExplorerRoutes GETs every route of ecosystem/ping.pub/routes.txt (what Ping.pub reads,
// and our modules' routes) from node 0's REST server, with the placeholders filled from the
// running chain, and requires 200 with a JSON object; the same data is on gRPC (checked for
// blocks, bank and our modules: explorers such as Mintscan read gRPC), and the REST server
// answers browsers' CORS requests.
func testExplorerRoutes(t *testing.T, net *localnet.Net) {
	alice := net.Addr(t, "alice")
	// A build validator, a claim and a gov proposal, so that the routes naming one answer
	// (three signers: sent at once, one block instead of three).
	seed := fmt.Sprint(time.Now().UnixNano())
	drv, out := claimTestCID(cid.DagJSON, "routes drv "+seed), claimTestCID(cid.Raw, "routes out "+seed)
	proposal := filepath.Join(t.TempDir(), "proposal.json")
	require.NoError(t, os.WriteFile(proposal, []byte(`{"messages":[],"deposit":"10000000ubct","title":"explorer routes","summary":"a proposal for the explorer routes test","metadata":"explorer routes test"}`), 0o644))
	sent := net.TxsAtOnce(t,
		[]string{"validators", "register", "1000000000ubct", "x86_64-linux", "--from", "carol"},
		[]string{"claims", "submit", drv, out, "--deposit", "10000000ubct", "--from", "alice"},
		[]string{"gov", "submit-proposal", proposal, "--from", "val0", "--gas", "400000"})
	for i, o := range sent {
		require.NoError(t, o.CLI.Err, "tx %d: %s", i, o.CLI.Stderr)
		require.Zero(t, o.Res.Code, "tx %d: %s", i, o.Res.RawLog)
	}
	claim := sent[1].Res
	var claims struct {
		Claims []struct {
			ID string `json:"id"`
		} `json:"claims"`
	}
	net.REST(t, 0, "/buildchain/claims/v1/derivations/"+drv+"/claims", &claims)
	require.Len(t, claims.Claims, 1)
	var props struct {
		Proposals []struct {
			ID string `json:"id"`
		} `json:"proposals"`
	}
	net.REST(t, 0, "/cosmos/gov/v1/proposals?pagination.reverse=true&pagination.limit=1", &props)
	require.NotEmpty(t, props.Proposals)
	var vals struct {
		Validators []struct {
			OperatorAddress string `json:"operator_address"`
		} `json:"validators"`
	}
	net.REST(t, 0, "/cosmos/staking/v1beta1/validators", &vals)
	require.NotEmpty(t, vals.Validators)
	height, err := strconv.ParseInt(claim.Height, 10, 64)
	require.NoError(t, err)

	fill := strings.NewReplacer(
		"{height}", strconv.FormatInt(height, 10), "{hash}", claim.TxHash, "{address}", alice,
		"{valoper}", vals.Validators[0].OperatorAddress, "{validator}", net.Addr(t, "carol"),
		"{denom}", "ubct", "{claim_id}", claims.Claims[0].ID, "{derivation_cid}", drv, "{output_cid}", out,
		"{proposal_id}", props.Proposals[0].ID,
	)
	routes := readList(t, filepath.Join(localnet.RepoRoot(), "ecosystem", "ping.pub", "routes.txt"))
	require.Greater(t, len(routes), 50)
	for _, r := range routes {
		path := fill.Replace(r)
		require.NotContains(t, path, "{", "unfilled placeholder in %s", r)
		var obj map[string]any
		require.NoError(t, net.RESTErr(0, path, &obj), "explorer route %s", r)
		require.NotEmpty(t, obj, "explorer route %s", r)
	}

	// Browsers (Ping.pub is a web app) need CORS on REST and CometBFT RPC.
	for _, url := range []string{net.RESTAddr(0) + "/cosmos/base/tendermint/v1beta1/node_info", net.RPCAddr(0) + "/status"} {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		req.Header.Set("Origin", "http://localhost:5173")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, url)
		require.NotEmpty(t, resp.Header.Get("Access-Control-Allow-Origin"), "CORS header from %s", url)
	}

	// gRPC: the same reads through the SDK's gRPC services and ours.
	conn := net.GRPC(t, 0, grpcCodec())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	blk, err := cmtservice.NewServiceClient(conn).GetBlockByHeight(ctx, &cmtservice.GetBlockByHeightRequest{Height: height})
	require.NoError(t, err)
	require.Equal(t, height, blk.SdkBlock.Header.Height)
	txs, err := txtypes.NewServiceClient(conn).GetBlockWithTxs(ctx, &txtypes.GetBlockWithTxsRequest{Height: height})
	require.NoError(t, err)
	require.Equal(t, len(blk.SdkBlock.Data.Txs), len(txs.Txs))
	_, err = banktypes.NewQueryClient(conn).DenomsMetadata(ctx, &banktypes.QueryDenomsMetadataRequest{})
	require.NoError(t, err)
	_, err = stakingtypes.NewQueryClient(conn).Validators(ctx, &stakingtypes.QueryValidatorsRequest{})
	require.NoError(t, err)
	c, err := claimstypes.NewQueryClient(conn).Claim(ctx, &claimstypes.QueryClaimRequest{Id: mustUint(t, claims.Claims[0].ID)})
	require.NoError(t, err)
	require.Equal(t, drv, c.Claim.DerivationCid)
	_, err = valtypes.NewQueryClient(conn).Randomness(ctx, &valtypes.QueryRandomnessRequest{Height: height})
	require.NoError(t, err)
}

// testChainRegistry checks the shipped chain-registry chain.json and assetlist.json and the
// Ping.pub chain config against the running chain: chain id, bech32 prefix, denoms (the bank
// denom metadata), SDK version, and that the APIs they list answer at the localnet's ports
// (the files name the default LOCALNET_PORT_BASE 26600; the test's network runs on its own
// base, so the offsets are checked and the test's ports asked).
func testChainRegistry(t *testing.T, net *localnet.Net) {
	root := filepath.Join(localnet.RepoRoot(), "ecosystem")
	var chain struct {
		ChainName    string `json:"chain_name"`
		ChainID      string `json:"chain_id"`
		Bech32Prefix string `json:"bech32_prefix"`
		DaemonName   string `json:"daemon_name"`
		Slip44       int    `json:"slip44"`
		Fees         struct {
			FeeTokens []struct {
				Denom string `json:"denom"`
			} `json:"fee_tokens"`
		} `json:"fees"`
		Staking struct {
			StakingTokens []struct {
				Denom string `json:"denom"`
			} `json:"staking_tokens"`
		} `json:"staking"`
		Codebase struct {
			SDK struct {
				Version string `json:"version"`
			} `json:"sdk"`
		} `json:"codebase"`
		APIs struct {
			RPC, REST, GRPC []struct {
				Address string `json:"address"`
			}
		} `json:"apis"`
	}
	readJSON(t, filepath.Join(root, "chain-registry", "buildchain", "chain.json"), &chain)
	var assets struct {
		ChainName string `json:"chain_name"`
		Assets    []struct {
			Base       string `json:"base"`
			Display    string `json:"display"`
			Symbol     string `json:"symbol"`
			DenomUnits []struct {
				Denom    string `json:"denom"`
				Exponent uint32 `json:"exponent"`
			} `json:"denom_units"`
		} `json:"assets"`
	}
	readJSON(t, filepath.Join(root, "chain-registry", "buildchain", "assetlist.json"), &assets)
	var ping struct {
		ChainName  string   `json:"chain_name"`
		API        []string `json:"api"`
		RPC        []string `json:"rpc"`
		SDKVersion string   `json:"sdk_version"`
		CoinType   string   `json:"coin_type"`
		AddrPrefix string   `json:"addr_prefix"`
		Assets     []struct {
			Base     string `json:"base"`
			Symbol   string `json:"symbol"`
			Exponent string `json:"exponent"`
		} `json:"assets"`
	}
	readJSON(t, filepath.Join(root, "ping.pub", "buildchain.json"), &ping)

	require.Equal(t, net.ChainID, chain.ChainID)
	require.Equal(t, "buildchaind", chain.DaemonName)
	require.True(t, strings.HasPrefix(net.Addr(t, "alice"), chain.Bech32Prefix+"1"), "addresses use prefix %q", chain.Bech32Prefix)
	var sp struct {
		Params struct {
			BondDenom string `json:"bond_denom"`
		} `json:"params"`
	}
	net.REST(t, 0, "/cosmos/staking/v1beta1/params", &sp)
	require.Equal(t, sp.Params.BondDenom, chain.Staking.StakingTokens[0].Denom)
	require.Equal(t, sp.Params.BondDenom, chain.Fees.FeeTokens[0].Denom)
	var info struct {
		ApplicationVersion struct {
			CosmosSDKVersion string `json:"cosmos_sdk_version"`
		} `json:"application_version"`
		DefaultNodeInfo struct {
			Network string `json:"network"`
		} `json:"default_node_info"`
	}
	net.REST(t, 0, "/cosmos/base/tendermint/v1beta1/node_info", &info)
	require.Equal(t, net.ChainID, info.DefaultNodeInfo.Network)
	require.Equal(t, info.ApplicationVersion.CosmosSDKVersion, chain.Codebase.SDK.Version)
	require.Equal(t, strings.TrimPrefix(info.ApplicationVersion.CosmosSDKVersion, "v"), ping.SDKVersion)

	// The denominations are the chain's own bank metadata.
	var md struct {
		Metadata struct {
			Base       string `json:"base"`
			Display    string `json:"display"`
			Symbol     string `json:"symbol"`
			DenomUnits []struct {
				Denom    string `json:"denom"`
				Exponent uint32 `json:"exponent"`
			} `json:"denom_units"`
		} `json:"metadata"`
	}
	net.REST(t, 0, "/cosmos/bank/v1beta1/denoms_metadata/"+sp.Params.BondDenom, &md)
	require.Equal(t, chain.ChainName, assets.ChainName)
	require.Len(t, assets.Assets, 1)
	a := assets.Assets[0]
	require.Equal(t, md.Metadata.Base, a.Base)
	require.Equal(t, md.Metadata.Display, a.Display)
	require.Equal(t, md.Metadata.Symbol, a.Symbol)
	require.Equal(t, len(md.Metadata.DenomUnits), len(a.DenomUnits))
	for i, u := range md.Metadata.DenomUnits {
		require.Equal(t, u.Denom, a.DenomUnits[i].Denom)
		require.Equal(t, u.Exponent, a.DenomUnits[i].Exponent)
	}

	// Ping.pub's config says the same as the registry files.
	require.Equal(t, chain.ChainName, ping.ChainName)
	require.Equal(t, chain.Bech32Prefix, ping.AddrPrefix)
	require.Equal(t, strconv.Itoa(chain.Slip44), ping.CoinType)
	require.Equal(t, a.Base, ping.Assets[0].Base)
	require.Equal(t, a.Symbol, ping.Assets[0].Symbol)
	var displayExp uint32
	for _, u := range a.DenomUnits {
		if u.Denom == a.Display {
			displayExp = u.Exponent
		}
	}
	require.Equal(t, strconv.Itoa(int(displayExp)), ping.Assets[0].Exponent)
	require.Equal(t, []string{chain.APIs.REST[0].Address}, ping.API)
	require.Equal(t, []string{chain.APIs.RPC[0].Address}, ping.RPC)

	// The listed endpoints are node 0 of a default localnet: base+1 RPC, +2 REST, +3 gRPC.
	const defaultBase = 26600
	port := func(addr string) int {
		i := strings.LastIndex(addr, ":")
		p, err := strconv.Atoi(strings.TrimRight(addr[i+1:], "/"))
		require.NoError(t, err, addr)
		return p - defaultBase + net.PortBase
	}
	var st map[string]any
	require.NoError(t, localnet.GetJSON(fmt.Sprintf("http://127.0.0.1:%d/status", port(chain.APIs.RPC[0].Address)), &st))
	require.NoError(t, localnet.GetJSON(fmt.Sprintf("http://127.0.0.1:%d/cosmos/base/tendermint/v1beta1/node_info", port(chain.APIs.REST[0].Address)), &st))
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", port(chain.APIs.GRPC[0].Address))
	require.Equal(t, net.GRPCAddr(0), grpcAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ni, err := cmtservice.NewServiceClient(net.GRPC(t, 0, grpcCodec())).GetNodeInfo(ctx, &cmtservice.GetNodeInfoRequest{})
	require.NoError(t, err)
	require.Equal(t, chain.ChainID, ni.DefaultNodeInfo.Network)
}

func readList(t *testing.T, file string) []string {
	t.Helper()
	bz, err := os.ReadFile(file)
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(bz), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

func readJSON(t *testing.T, file string, out any) {
	t.Helper()
	bz, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(bz, out), file)
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 64)
	require.NoError(t, err)
	return v
}

// testCosmJS runs tests/clients/cosmjs.test.mjs with node: CosmJS (@cosmjs/stargate and
// @cosmjs/proto-signing from npm, versions pinned in tests/clients/package-lock.json) reads the
// chain id and heights, decodes every tx of the last blocks, sends a bank transfer signed in JS
// with alice's exported test key, submits a MsgSubmitClaim encoded with protobufjs from the
// repo's proto files, and finds txs by height and by the claims event.
func testCosmJS(t *testing.T, net *localnet.Net) {
	dir := filepath.Join(localnet.RepoRoot(), "tests", "clients")
	npmInstall(t, dir)
	key := exportKeyHex(t, net, "alice")
	protoPaths := []string{filepath.Join(localnet.RepoRoot(), "proto")}
	for _, m := range []struct{ mod, sub string }{
		{"github.com/cosmos/cosmos-sdk", "proto"},
		{"github.com/cosmos/gogoproto", ""},
		{"github.com/cosmos/gogoproto", "protobuf"}, // google/protobuf/descriptor.proto
		{"github.com/cosmos/cosmos-proto", "proto"},
	} {
		protoPaths = append(protoPaths, filepath.Join(goModDir(t, m.mod), m.sub))
	}
	seed := fmt.Sprint(time.Now().UnixNano()) // fresh CIDs: the claim must be new on this chain
	drv, outCID := claimTestCID(cid.DagJSON, "cosmjs drv "+seed), claimTestCID(cid.DagProtobuf, "cosmjs out "+seed)
	salt := []byte("cosmjs salt " + seed)
	cmd := exec.Command("node", "cosmjs.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"BC_RPC="+net.RPCAddr(0),
		"BC_REST="+net.RESTAddr(0),
		"BC_CHAIN_ID="+net.ChainID,
		"BC_KEY_HEX="+key,
		"BC_RECIPIENT="+net.Addr(t, "bob"),
		"BC_DERIVATION_CID="+drv,
		"BC_OUTPUT_CID="+outCID,
		"BC_CLAIM_SALT="+hex.EncodeToString(salt),
		"BC_DEPOSIT=10000000ubct",
		"BC_PROTO_PATHS="+strings.Join(protoPaths, string(os.PathListSeparator)),
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node cosmjs.test.mjs:\n%s", out)
	require.NoError(t, err, "the CosmJS client test failed")
	// The commitment JS computed (and the chain stored, checked in JS) is the Go one.
	want := claimstypes.ClaimCommitment(net.Addr(t, "alice"), drv, outCID, salt)
	require.Contains(t, string(out), "commitment "+hex.EncodeToString(want))
}

// npmInstall installs tests/clients' pinned packages (npm ci) unless those of the current
// lock file are installed already (`make clients-deps` does it once per lock file, by the
// same rule: the lock file not newer than node_modules/.package-lock.json).
func npmInstall(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed: run make deps")
	}
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	require.NoError(t, err)
	if installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && !lock.ModTime().After(installed.ModTime()) {
		return
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "npm ci in %s:\n%s", dir, out)
}

// exportKeyHex exports a test key's private key as hex (what a JS wallet imports).
func exportKeyHex(t *testing.T, net *localnet.Net, name string) string {
	t.Helper()
	cmd := exec.Command(net.Binary, "keys", "export", name, "--unarmored-hex", "--unsafe",
		"--keyring-backend", "test", "--home", net.Home(0))
	cmd.Stdin = strings.NewReader("y\n") // the "USE AT YOUR OWN RISK" confirmation
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "keys export: %s", stderr.String())
	key := strings.TrimSpace(stdout.String())
	require.Regexp(t, "^[0-9a-f]{64}$", key)
	return key
}

// goModDir is the module cache directory of a module in this repo's build list.
func goModDir(t *testing.T, mod string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
	cmd.Dir = localnet.RepoRoot()
	out, err := cmd.Output()
	require.NoError(t, err, "go list -m %s", mod)
	dir := strings.TrimSpace(string(out))
	require.NotEmpty(t, dir, "module %s is not downloaded", mod)
	return dir
}

// testEveryTxDecodes reads every block from the first on over CometBFT RPC until blocks
// carrying VRF proofs of both authorities were seen (their keys self-register through their
// first beacons and activate vrf_key_activation_delay blocks later), decodes each transaction
// with the app's (the SDK's standard) tx decoder, and requires code 0 for each in
// block_results: the beacon is a MsgBeacon, not raw bytes that fail with "tx parse error".
// The SDK's tx service, which decodes every tx of a block, answers for each of those blocks.
func testEveryTxDecodes(t *testing.T, net *localnet.Net) {
	decode := app.New(log.NewNopLogger(), dbm.NewMemDB(), nil, false,
		simtestutil.NewAppOptionsWithFlagHome(t.TempDir())).TxConfig().TxDecoder()
	proofs := map[string]bool{} // proposers whose blocks carried a VRF-derived randomness
	beacons := 0
	deadline := time.Now().Add(90 * time.Second)
	for h := int64(1); len(proofs) < 2; h++ {
		require.True(t, time.Now().Before(deadline), "no VRF beacons of both authorities by height %d", h)
		eventually(t, 30*time.Second, fmt.Sprintf("height %d", h), func() bool { return net.Height(t, 0) > h })
		var block struct {
			Result struct {
				Block struct {
					Header struct {
						ProposerAddress string `json:"proposer_address"`
					} `json:"header"`
					Data struct {
						Txs []string `json:"txs"`
					} `json:"data"`
				} `json:"block"`
			} `json:"result"`
		}
		var results struct {
			Result struct {
				TxsResults []struct {
					Code uint32 `json:"code"`
					Log  string `json:"log"`
				} `json:"txs_results"`
			} `json:"result"`
		}
		net.RPC(t, 0, fmt.Sprintf("/block?height=%d", h), &block)
		net.RPC(t, 0, fmt.Sprintf("/block_results?height=%d", h), &results)
		txs := block.Result.Block.Data.Txs
		require.Len(t, results.Result.TxsResults, len(txs), "height %d", h)
		for i, b64 := range txs {
			bz, err := base64.StdEncoding.DecodeString(b64)
			require.NoError(t, err)
			tx, err := decode(bz)
			require.NoError(t, err, "height %d tx %d does not decode", h, i)
			_, err = tx.GetMsgsV2() // resolves signers, as the SDK's tx service does
			require.NoError(t, err)
			r := results.Result.TxsResults[i]
			require.Equal(t, uint32(0), r.Code, "height %d tx %d failed: %s", h, i, r.Log)
			if _, ok := tx.GetMsgs()[0].(*valtypes.MsgBeacon); ok {
				require.Equal(t, 0, i, "height %d: a beacon that is not the first tx", h)
				beacons++
			}
		}
		// The SDK's tx service decodes every transaction of the block too.
		var withTxs struct {
			Txs []struct {
				Body struct {
					Messages []map[string]any `json:"messages"`
				} `json:"body"`
			} `json:"txs"`
		}
		net.REST(t, 0, fmt.Sprintf("/cosmos/tx/v1beta1/txs/block/%d", h), &withTxs)
		require.Len(t, withTxs.Txs, len(txs), "height %d", h)
		var r struct {
			Randomness struct {
				FromVrf  bool   `json:"from_vrf"`
				Proposer string `json:"proposer"`
			} `json:"randomness"`
		}
		net.REST(t, 0, fmt.Sprintf("/buildchain/validators/v1/randomness/%d", h), &r)
		if r.Randomness.FromVrf {
			require.NotEmpty(t, txs, "height %d: VRF randomness without a beacon", h)
			require.Equal(t, "/buildchain.validators.v1.MsgBeacon", withTxs.Txs[0].Body.Messages[0]["@type"])
			proofs[r.Randomness.Proposer] = true
		}
	}
	require.NotZero(t, beacons)
}
