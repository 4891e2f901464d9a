package localnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options configure a network. Zero values take the defaults.
type Options struct {
	// Nodes is the number of authorities (default 4).
	Nodes int
	// PortBase is the first port of the block; node i uses PortBase+10*i+{0..6}. Default: a
	// free block in 27000-31999 (see freePortBase).
	PortBase int
	// TimeoutCommit is CometBFT's block time (default 500ms).
	TimeoutCommit string
	// Dir is the network directory (default a t.TempDir()).
	Dir string
	// GenesisJQ is a jq filter applied to the genesis when it is created, to set module params
	// for a test without a gov proposal, e.g.
	// `.app_state.claims.params.report_timeout_blocks = "5"`. The result must validate.
	GenesisJQ string
}

// Net is a running local network.
type Net struct {
	Dir      string
	Binary   string
	ChainID  string
	PortBase int
	Nodes    int
	// Hosts[i], when set, is the address node i listens on instead of 127.0.0.1 (a test that
	// puts each node in its own network namespace, tests/chaos, rewrites the configs to match).
	Hosts []string

	script string
	env    []string
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	// usedBlocks holds the port bases of this process's networks.
	usedBlocks sync.Map
)

// RepoRoot returns the repository root (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary returns the buildchaind binary: $BUILDCHAIND if set, else one built once per
// test process from this checkout (so tests never run a stale binary).
func Binary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("BUILDCHAIND"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "buildchaind-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "buildchaind")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/buildchaind")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/buildchaind: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Port blocks for tests: 100 ports each (room for 10 nodes of 10 ports), below Linux's
// ephemeral range (32768+) so an outgoing connection never holds a port a node must listen on.
const (
	testPortLow    = 27000
	testPortBlocks = 50
	blockSize      = 100
)

// freePortBase picks a port block whose ports for n nodes are all free right now. It starts
// at a random block so that concurrent test processes (several engineers, several packages)
// rarely probe the same block, and skips blocks another network of this process took.
// $LOCALNET_TEST_PORT_BASE pins the first block tried.
func freePortBase(t testing.TB, nodes int) int {
	t.Helper()
	start := mrand.IntN(testPortBlocks)
	first := -1
	if s := os.Getenv("LOCALNET_TEST_PORT_BASE"); s != "" {
		if v, err := strconv.Atoi(s); err == nil {
			first = v
		}
	}
	for k := 0; k < testPortBlocks; k++ {
		base := testPortLow + blockSize*((start+k)%testPortBlocks)
		if first >= 0 {
			base = first + blockSize*k
		}
		if _, taken := usedBlocks.LoadOrStore(base, true); taken {
			continue
		}
		if portsFree(base, nodes) {
			return base
		}
		usedBlocks.Delete(base)
	}
	t.Fatalf("no free block of %d ports for %d nodes", blockSize, nodes)
	return 0
}

// portsFree reports whether every port node i of a network at base would use can be bound.
func portsFree(base, nodes int) bool {
	for i := 0; i < nodes; i++ {
		for p := 0; p < 7; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+10*i+p))
			if err != nil {
				return false
			}
			_ = l.Close()
		}
	}
	return true
}

// New prepares a network without starting it.
func New(t testing.TB, opts Options) *Net {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 4
	}
	if opts.PortBase == 0 {
		opts.PortBase = freePortBase(t, opts.Nodes)
	}
	if opts.TimeoutCommit == "" {
		opts.TimeoutCommit = "500ms"
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Join(t.TempDir(), "localnet")
	}
	n := &Net{
		Dir:      opts.Dir,
		Binary:   Binary(t),
		ChainID:  "buildchain-1",
		PortBase: opts.PortBase,
		Nodes:    opts.Nodes,
		script:   filepath.Join(RepoRoot(), "scripts", "localnet.sh"),
	}
	n.env = append(os.Environ(),
		"LOCALNET_DIR="+n.Dir,
		"LOCALNET_PORT_BASE="+strconv.Itoa(n.PortBase),
		"LOCALNET_TIMEOUT_COMMIT="+opts.TimeoutCommit,
		"LOCALNET_CHAIN_ID="+n.ChainID,
		"BUILDCHAIND="+n.Binary,
		"LOCALNET_GENESIS_JQ="+opts.GenesisJQ,
		// Authorities only: tests register the build validators they need themselves (and
		// alice, bob, carol stay plain accounts). ScriptEnv can override it.
		"LOCALNET_BUILDERS=0",
		// demo mounts nothing at the machine-wide /ipfs/store: tests run side by side (a test
		// that wants the mount sets it and runs demo in a mount namespace of its own).
		"LOCALNET_SYSTEM_STORE=",
	)
	return n
}

// Start starts a network and stops it when the test ends; on failure the tail of every
// node log is printed.
func Start(t testing.TB, opts Options) *Net {
	t.Helper()
	n := New(t, opts)
	t.Cleanup(func() {
		if t.Failed() {
			n.dumpLogs(t)
		}
		if out, err := n.Script("stop"); err != nil {
			t.Logf("localnet stop: %v\n%s", err, out)
		}
	})
	if out, err := n.Script("start", strconv.Itoa(n.Nodes)); err != nil {
		t.Fatalf("localnet start: %v\n%s", err, out)
	}
	return n
}

func (n *Net) dumpLogs(t testing.TB) {
	for i := 0; i < n.Nodes; i++ {
		bz, err := os.ReadFile(filepath.Join(n.Dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			continue
		}
		lines := strings.Split(string(bz), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		t.Logf("--- node%d.log (tail)\n%s", i, strings.Join(lines, "\n"))
	}
}

// Script runs scripts/localnet.sh with the network's environment and returns its combined output.
func (n *Net) Script(args ...string) (string, error) {
	return n.ScriptEnv(nil, args...)
}

// ScriptEnv is Script with extra environment variables.
func (n *Net) ScriptEnv(extraEnv []string, args ...string) (string, error) {
	out, err := n.ScriptCmd(extraEnv, args...).CombinedOutput()
	return string(out), err
}

// ScriptCmd is the command ScriptEnv runs, for callers that run it differently (e.g. in a
// mount namespace of their own).
func (n *Net) ScriptCmd(extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.Command(n.script, args...)
	cmd.Dir = RepoRoot()
	cmd.Env = append(append([]string(nil), n.env...), extraEnv...)
	return cmd
}

// Home returns the home directory of node i. Node 0's home also holds the test keyring.
func (n *Net) Home(i int) string { return filepath.Join(n.Dir, fmt.Sprintf("node%d", i)) }

// Host returns the address node i listens on: Hosts[i] if set, else 127.0.0.1.
func (n *Net) Host(i int) string {
	if i < len(n.Hosts) && n.Hosts[i] != "" {
		return n.Hosts[i]
	}
	return "127.0.0.1"
}

// RPCAddr returns the CometBFT RPC URL of node i.
func (n *Net) RPCAddr(i int) string {
	return fmt.Sprintf("http://%s:%d", n.Host(i), n.PortBase+10*i+1)
}

// RESTAddr returns the REST (grpc-gateway) URL of node i.
func (n *Net) RESTAddr(i int) string {
	return fmt.Sprintf("http://%s:%d", n.Host(i), n.PortBase+10*i+2)
}

// GRPCAddr returns the gRPC host:port of node i.
func (n *Net) GRPCAddr(i int) string {
	return fmt.Sprintf("%s:%d", n.Host(i), n.PortBase+10*i+3)
}

// CLIResult is the outcome of one buildchaind invocation.
type CLIResult struct {
	Stdout, Stderr string
	Err            error
}

// CLI runs buildchaind against node 0 (its home, keyring and RPC) and returns the result
// without failing the test, so tests can check errors.
func (n *Net) CLI(args ...string) CLIResult {
	return n.CLINode(0, args...)
}

// CLINode runs buildchaind with node i's home (node i's RPC in client.toml); the keyring is
// always node 0's, where all test keys live. A --home or --keyring-dir in args wins.
func (n *Net) CLINode(i int, args ...string) CLIResult {
	cmd := exec.Command(n.Binary, n.cliArgs(i, args)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return CLIResult{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// cliArgs is args plus node i's --home and, for commands that sign or list keys, node 0's
// --keyring-dir. A flag the caller gave is not added again: cobra takes the last of repeated
// flags, so an appended --home would silently override the caller's (a `vrf show --home
// node1` that printed node 0's key).
func (n *Net) cliArgs(i int, args []string) []string {
	full := append([]string(nil), args...)
	if !hasFlag(args, "--home") {
		full = append(full, "--home", n.Home(i))
	}
	if i != 0 && needsKeyring(args) && !hasFlag(args, "--keyring-dir") {
		full = append(full, "--keyring-dir", n.Home(0))
	}
	return full
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

func needsKeyring(args []string) bool {
	return len(args) > 0 && (args[0] == "tx" || args[0] == "keys")
}

// MustCLI runs buildchaind against node 0 and fails the test on error.
func (n *Net) MustCLI(t testing.TB, args ...string) string {
	t.Helper()
	r := n.CLI(args...)
	if r.Err != nil {
		t.Fatalf("buildchaind %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// Addr returns the bech32 address of a test key (alice, bob, carol, val0...): from the JSON
// scripts/localnet.sh saved when it made the key ($LOCALNET_DIR/NAME.key.json), else from the
// keyring (a buildchaind run: a second or more on a loaded machine, and tests ask often).
func (n *Net) Addr(t testing.TB, name string) string {
	t.Helper()
	if a := n.savedAddr(name); a != "" {
		return a
	}
	return strings.TrimSpace(n.MustCLI(t, "keys", "show", name, "-a", "--keyring-backend", "test"))
}

// savedAddr is the address in $LOCALNET_DIR/NAME.key.json, or "".
func (n *Net) savedAddr(name string) string {
	if name == "" || strings.ContainsAny(name, "/.") {
		return ""
	}
	bz, err := os.ReadFile(filepath.Join(n.Dir, name+".key.json"))
	if err != nil {
		return ""
	}
	var k struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	}
	if json.Unmarshal(bz, &k) != nil || k.Name != name || !strings.HasPrefix(k.Address, "bc1") {
		return ""
	}
	return k.Address
}

// TxResponse is the subset of the SDK's TxResponse that tests look at.
type TxResponse struct {
	Height    string `json:"height"`
	TxHash    string `json:"txhash"`
	Codespace string `json:"codespace"`
	Code      uint32 `json:"code"`
	RawLog    string `json:"raw_log"`
}

// BroadcastTx runs `buildchaind tx ARGS -y -o json` and returns the CheckTx response. It
// does not wait for the block; a CLI error (bad flags, bad address) is returned as is.
func (n *Net) BroadcastTx(args ...string) (TxResponse, CLIResult) {
	full := append([]string{"tx"}, args...)
	full = append(full, "-y", "-o", "json", "--keyring-backend", "test")
	if !hasFlag(args, "--chain-id") {
		full = append(full, "--chain-id", n.ChainID)
	}
	r := n.CLI(full...)
	var res TxResponse
	if r.Err == nil {
		if err := json.Unmarshal([]byte(lastJSONLine(r.Stdout)), &res); err != nil {
			r.Err = fmt.Errorf("parsing tx response %q: %w", r.Stdout, err)
		}
	}
	return res, r
}

// Tx broadcasts a transaction, waits until it is in a block and returns the block result.
// It fails the test if the CLI fails; the caller checks Code.
func (n *Net) Tx(t testing.TB, args ...string) TxResponse {
	t.Helper()
	res, r := n.BroadcastTx(args...)
	if r.Err != nil {
		t.Fatalf("tx %v: %v\nstdout: %s\nstderr: %s", args, r.Err, r.Stdout, r.Stderr)
	}
	if res.Code != 0 {
		return res // rejected by CheckTx: it will never be in a block
	}
	return n.WaitTx(t, res.TxHash, 30*time.Second)
}

// WaitTx waits until the transaction is in a block and returns its result.
func (n *Net) WaitTx(t testing.TB, hash string, timeout time.Duration) TxResponse {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var out struct {
			Result struct {
				Height   string `json:"height"`
				Hash     string `json:"hash"`
				TxResult struct {
					Code      uint32 `json:"code"`
					Log       string `json:"log"`
					Codespace string `json:"codespace"`
				} `json:"tx_result"`
			} `json:"result"`
			Error json.RawMessage `json:"error"`
		}
		if err := n.rpcGet(0, "/tx?hash=0x"+hash, &out); err == nil && out.Error == nil && out.Result.Height != "" {
			// CometBFT indexes a block's txs before the app commits its state: until then a
			// query (an account's sequence for the next tx, a balance) still sees the state
			// before the tx.
			h, _ := strconv.ParseInt(out.Result.Height, 10, 64)
			n.waitAppHeight(h, time.Until(deadline))
			return TxResponse{
				Height: out.Result.Height, TxHash: hash, Code: out.Result.TxResult.Code,
				RawLog: out.Result.TxResult.Log, Codespace: out.Result.TxResult.Codespace,
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("tx %s not in a block after %s", hash, timeout)
	return TxResponse{}
}

// waitAppHeight waits (at most timeout) until node 0's app has committed height h
// (/abci_info's last_block_height).
func (n *Net) waitAppHeight(h int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		var info struct {
			Result struct {
				Response struct {
					LastBlockHeight string `json:"last_block_height"`
				} `json:"response"`
			} `json:"result"`
		}
		if err := n.rpcGet(0, "/abci_info", &info); err == nil {
			if got, err := strconv.ParseInt(info.Result.Response.LastBlockHeight, 10, 64); err == nil && got >= h {
				return
			}
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastJSONLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(strings.TrimSpace(lines[i]), "{") {
			return lines[i]
		}
	}
	return s
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// GetJSON GETs url (5 s timeout) and decodes its JSON body into out; a status other than 200 is an
// error that carries the body.
func GetJSON(url string, out any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decoding %q: %w", url, body, err)
	}
	return nil
}

func (n *Net) rpcGet(i int, path string, out any) error {
	return GetJSON(n.RPCAddr(i)+path, out)
}

// RPC GETs path (e.g. "/block?height=3") from node i's CometBFT RPC server and decodes the
// JSON into out.
func (n *Net) RPC(t testing.TB, i int, path string, out any) {
	t.Helper()
	if err := n.rpcGet(i, path, out); err != nil {
		t.Fatal(err)
	}
}

// REST GETs path from node i's REST server and decodes the JSON into out.
func (n *Net) REST(t testing.TB, i int, path string, out any) {
	t.Helper()
	if err := GetJSON(n.RESTAddr(i)+path, out); err != nil {
		t.Fatal(err)
	}
}

// RESTErr is REST returning the error instead of failing.
func (n *Net) RESTErr(i int, path string, out any) error {
	return GetJSON(n.RESTAddr(i)+path, out)
}

// GRPC dials node i's gRPC server. The connection uses the SDK's codec (gogoproto types)
// and is closed when the test ends.
func (n *Net) GRPC(t testing.TB, i int, codec grpc.CallOption) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if codec != nil {
		opts = append(opts, grpc.WithDefaultCallOptions(codec))
	}
	conn, err := grpc.NewClient(n.GRPCAddr(i), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Status is the part of CometBFT's /status that tests use.
type Status struct {
	Height  int64
	AppHash string
	NodeID  string
}

// Status returns node i's latest height.
func (n *Net) Status(i int) (Status, error) {
	var out struct {
		Result struct {
			NodeInfo struct {
				ID string `json:"id"`
			} `json:"node_info"`
			SyncInfo struct {
				LatestBlockHeight string `json:"latest_block_height"`
				LatestAppHash     string `json:"latest_app_hash"`
			} `json:"sync_info"`
		} `json:"result"`
	}
	if err := n.rpcGet(i, "/status", &out); err != nil {
		return Status{}, err
	}
	h, err := strconv.ParseInt(out.Result.SyncInfo.LatestBlockHeight, 10, 64)
	if err != nil {
		return Status{}, fmt.Errorf("node %d height %q: %w", i, out.Result.SyncInfo.LatestBlockHeight, err)
	}
	return Status{Height: h, AppHash: out.Result.SyncInfo.LatestAppHash, NodeID: out.Result.NodeInfo.ID}, nil
}

// Height returns node i's latest height, failing the test if the node does not answer.
func (n *Net) Height(t testing.TB, i int) int64 {
	t.Helper()
	s, err := n.Status(i)
	if err != nil {
		t.Fatalf("node %d status: %v", i, err)
	}
	return s.Height
}

// WaitHeight waits until node i reaches height h.
func (n *Net) WaitHeight(t testing.TB, i int, h int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last Status
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = n.Status(i)
		if lastErr == nil && last.Height >= h {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("node %d did not reach height %d in %s (last height %d, err %v)", i, h, timeout, last.Height, lastErr)
}

// AppHashAt returns the app hash node i committed after executing block h. CometBFT puts it
// in the header of block h+1, so h+1 must exist on the node.
func (n *Net) AppHashAt(i int, h int64) (string, error) {
	var out struct {
		Result struct {
			Block struct {
				Header struct {
					AppHash string `json:"app_hash"`
				} `json:"header"`
			} `json:"block"`
		} `json:"result"`
	}
	if err := n.rpcGet(i, fmt.Sprintf("/block?height=%d", h+1), &out); err != nil {
		return "", err
	}
	if out.Result.Block.Header.AppHash == "" {
		return "", fmt.Errorf("node %d: no block %d", i, h+1)
	}
	return out.Result.Block.Header.AppHash, nil
}

// PID returns the pid of node i from its pid file, or 0.
func (n *Net) PID(i int) int {
	bz, err := os.ReadFile(filepath.Join(n.Dir, fmt.Sprintf("node%d.pid", i)))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(bz)))
	return pid
}

// Kill sends SIGKILL to node i (a crash: no graceful shutdown) and waits for it to exit.
func (n *Net) Kill(t testing.TB, i int) {
	t.Helper()
	pid := n.PID(i)
	if pid == 0 {
		t.Fatalf("node %d has no pid file", i)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill node %d (pid %d): %v", i, pid, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if !running(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node %d (pid %d) still alive after SIGKILL", i, pid)
}

// StartNode starts node i again (after Kill or stop-node).
func (n *Net) StartNode(t testing.TB, i int) {
	t.Helper()
	if out, err := n.Script("start-node", strconv.Itoa(i)); err != nil {
		t.Fatalf("start-node %d: %v\n%s", i, err, out)
	}
}

// running reports whether pid is a live process. An empty cmdline means gone or a zombie
// (after setsid the node's parent may be an init that does not reap).
func running(pid int) bool {
	bz, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && len(bz) > 0
}
