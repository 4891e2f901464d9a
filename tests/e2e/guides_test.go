package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// docBlock is one fenced `sh doctest` block of a guide (docs/README.md: the marker convention).
type docBlock struct {
	file       string
	line       int
	name       string // name=X in the info string, for the test's hooks
	background bool
	body       string
}

// docBlocks extracts the blocks of a guide that tests run, in document order.
func docBlocks(t *testing.T, file string) []docBlock {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []docBlock
	var cur *docBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			info := strings.Fields(strings.TrimPrefix(line, "```"))
			if len(info) >= 2 && info[0] == "sh" && info[1] == "doctest" {
				cur = &docBlock{file: filepath.Base(file), line: n}
				for _, w := range info[2:] {
					switch {
					case w == "background":
						cur.background = true
					case strings.HasPrefix(w, "name="):
						cur.name = strings.TrimPrefix(w, "name=")
					default:
						t.Fatalf("%s:%d: unknown doctest word %q", file, n, w)
					}
				}
			} else if len(info) > 0 {
				cur = &docBlock{line: -1} // a block shown only: skip to its end
			}
		case cur != nil && line == "```":
			if cur.line > 0 {
				blocks = append(blocks, *cur)
			}
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s: unterminated code block", file)
	}
	return blocks
}

// guideRunner runs a guide's blocks in order as bash, carrying exported variables from one
// block to the next through a state file (set -a exports every assignment).
type guideRunner struct {
	t     *testing.T
	dir   string // working directory: the repository root (guides name examples/...)
	state string
	env   []string
	hooks map[string]func()
	logs  string
	// died is closed when a background block exits before the test ends, so a block
	// waiting for it fails at once instead of at its timeout.
	died     chan struct{}
	diedOnce sync.Once
	ending   atomic.Bool
}

func newGuideRunner(t *testing.T, env []string) *guideRunner {
	d := t.TempDir()
	state := filepath.Join(d, "state.sh")
	if err := os.WriteFile(state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	g := &guideRunner{t: t, dir: localnet.RepoRoot(), state: state, env: env, hooks: map[string]func(){}, logs: d, died: make(chan struct{})}
	t.Cleanup(func() { g.ending.Store(true) })
	return g
}

func (g *guideRunner) run(blocks []docBlock) {
	t := g.t
	for i, b := range blocks {
		if h := g.hooks[b.name]; h != nil {
			h()
		}
		where := fmt.Sprintf("%s:%d", b.file, b.line)
		if b.background {
			log := filepath.Join(g.logs, fmt.Sprintf("bg%d.log", i))
			body := filepath.Join(g.logs, fmt.Sprintf("bg%d.sh", i))
			if err := os.WriteFile(body, []byte(b.body), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "-c", `set -a; . "$0"; set +a; exec bash -euo pipefail "$1"`, g.state, body)
			cmd.Dir, cmd.Env = g.dir, g.env
			out, err := os.Create(log)
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, cmd.Stderr = out, out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			done := make(chan struct{})
			go func() {
				_ = cmd.Wait()
				close(done)
				if !g.ending.Load() {
					g.diedOnce.Do(func() { close(g.died) })
				}
			}()
			t.Cleanup(func() {
				g.ending.Store(true)
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					<-done
				}
				out.Close()
				if t.Failed() {
					bz, _ := os.ReadFile(log)
					t.Logf("--- background block %s log (tail):\n%s", where, tail(string(bz), 30))
				}
			})
			t.Logf("%s: started in the background (pid %d)", where, cmd.Process.Pid)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		go func() {
			select {
			case <-g.died:
				cancel()
			case <-ctx.Done():
			}
		}()
		script := fmt.Sprintf("set -euo pipefail; set -a; . %q\n%s\nexport -p > %q.new && mv %q.new %q\n", g.state, b.body, g.state, g.state, g.state)
		cmd := exec.CommandContext(ctx, "bash", "-c", script)
		cmd.Dir, cmd.Env = g.dir, g.env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			select {
			case <-g.died:
				t.Fatalf("%s: a background block exited (its log follows)\n--- block:\n%s--- output:\n%s", where, b.body, out)
			default:
			}
			t.Fatalf("%s: %v\n--- block:\n%s--- output:\n%s", where, err, b.body, out)
		}
		t.Logf("%s: ok in %s\n%s", where, time.Since(start).Round(time.Millisecond), tail(string(out), 8))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestGuides runs the user's guides' `sh doctest` blocks against a localnet of one authority
// and one build validator: the derivation reference and the publisher guide (publish hello
// until VALID, verify, install). The operator guide joins the network `make run` starts
// instead (joinByOperatorGuide, from TestMakeRunFlow): a 5th full node and a 4th builder.
func TestGuides(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: sandboxed builds and FUSE mounts")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("needs /dev/fuse")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs busybox-static (/bin/busybox): run make deps")
	}
	start := time.Now()
	// One builder decides a claim: one round, no coin for more.
	net := localnet.New(t, localnet.Options{Nodes: 1,
		GenesisJQ: `.app_state.claims.params.min_rounds = 1 | .app_state.claims.params.max_rounds = 1 | .app_state.claims.params.p_continue = "0.000000000000000000"`})
	t.Cleanup(func() {
		if t.Failed() {
			dumpTails(t, net.Dir, "node0.log", "builder0.log")
		}
		if out, err := net.Script("stop"); err != nil {
			t.Logf("localnet stop: %v\n%s", err, out)
		}
	})
	if out, err := net.ScriptEnv([]string{"LOCALNET_BUILDERS=1"}, "start", "1"); err != nil {
		t.Fatalf("localnet start: %v\n%s", err, out)
	}
	t.Logf("localnet (1 authority, 1 builder) up after %s", time.Since(start).Round(time.Millisecond))
	peers, err := net.Script("peers")
	if err != nil {
		t.Fatalf("peers: %v", err)
	}

	// As a user: the derivation reference, then the publisher guide.
	user := filepath.Join(net.Dir, "guide-user")
	pub := newGuideRunner(t, append(guideEnv(t, net), "BUILDCHAIN_HOME="+user, "NODE_HOME="+net.Home(0), "KEY=val0",
		"PEERS="+strings.TrimSpace(peers)))
	pub.run(docBlocks(t, filepath.Join(localnet.RepoRoot(), "docs", "derivations.md")))
	pub.run(docBlocks(t, filepath.Join(localnet.RepoRoot(), "docs", "publisher-guide.md")))
	t.Logf("publisher guide done after %s", time.Since(start).Round(time.Millisecond))
}

// guideEnv is the environment the guides run in: buildchaind on PATH (as the guides call it)
// and a HOME of their own.
func guideEnv(t *testing.T, net *localnet.Net) []string {
	return append(os.Environ(), "PATH="+filepath.Dir(net.Binary)+":"+os.Getenv("PATH"), "HOME="+t.TempDir())
}

// joinByOperatorGuide runs every `sh doctest` block of docs/operator-guide.md as an operator
// on another machine joining net: a fresh home and only the network's addresses (node 0 as the
// seed, node 1, if any, as the light client's witness). Its node listens on port slot `slot` of
// the network's block and its sidecar on slot+1; funder (a key of node 0's keyring that no
// sidecar signs with) sends the new operator BCT, which on a real network someone else does.
// It checks that the node joined by state sync (its earliest block is after a snapshot) and
// follows the chain with the network's app hashes, that its operator is a registered build
// validator, and that its sidecar handles heights from the state-synced node.
func joinByOperatorGuide(t *testing.T, net *localnet.Net, slot int, funder string) {
	t.Helper()
	start := time.Now()
	p := net.PortBase + 10*slot
	home := filepath.Join(t.TempDir(), "joiner")
	witness := net.RPCAddr(0)
	if net.Nodes > 1 {
		witness = net.RPCAddr(1)
	}
	op := newGuideRunner(t, append(guideEnv(t, net),
		"CHAIN_ID="+net.ChainID, "SEED_RPC="+net.RPCAddr(0), "SEED_P2P=127.0.0.1:"+strconv.Itoa(net.PortBase),
		"WITNESS_RPC="+witness, "NODE_HOME="+home, "MONIKER=joiner", "KEY=operator",
		"P2P_PORT="+strconv.Itoa(p), "RPC_PORT="+strconv.Itoa(p+1), "API_PORT="+strconv.Itoa(p+2),
		"GRPC_PORT="+strconv.Itoa(p+3), "ABCI_PORT="+strconv.Itoa(p+5),
		"SIDECAR_P2P_PORT="+strconv.Itoa(p+10), "SIDECAR_METRICS_PORT="+strconv.Itoa(p+11),
		"BUILDER_PEERS="+builderPeers(t, net),
		// Test-only: every node here is on 127.0.0.1, which CometBFT's address book refuses
		// by default (set through the node's environment, not the guide).
		"BUILDCHAIND_P2P_ADDR_BOOK_STRICT=false", "BUILDCHAIND_P2P_ALLOW_DUPLICATE_IP=true",
		"BUILDCHAIN_HOME="+filepath.Join(home, "user")))
	// State sync needs a snapshot of node 0 (scripts/localnet.sh: every 20 blocks) and the
	// two blocks after it.
	net.WaitHeight(t, 0, 45, 2*time.Minute)
	op.hooks["register"] = func() {
		res := net.Tx(t, "bank", "send", funder, operatorAddr(t, home), "100000000000ubct")
		if res.Code != 0 {
			t.Fatalf("funding the operator: code %d: %s", res.Code, res.RawLog)
		}
		// The guide's register step asks the new node, which may be a block behind the
		// node that committed the funding: wait until it has that block.
		funded, _ := strconv.ParseInt(res.Height, 10, 64)
		rpc := fmt.Sprintf("http://127.0.0.1:%d", p+1)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var st struct {
				Result struct {
					SyncInfo struct {
						Latest string `json:"latest_block_height"`
					} `json:"sync_info"`
				} `json:"result"`
			}
			if localnet.GetJSON(rpc+"/status", &st) == nil {
				if h, _ := strconv.ParseInt(st.Result.SyncInfo.Latest, 10, 64); h >= funded {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the new node did not reach the funding block %d in 2 minutes", funded)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	op.run(docBlocks(t, filepath.Join(localnet.RepoRoot(), "docs", "operator-guide.md")))

	// The new node state-synced: its earliest block is after a snapshot, not 1.
	rpc := fmt.Sprintf("http://127.0.0.1:%d", p+1)
	var st struct {
		Result struct {
			SyncInfo struct {
				Earliest string `json:"earliest_block_height"`
				Latest   string `json:"latest_block_height"`
			} `json:"sync_info"`
		} `json:"result"`
	}
	if err := localnet.GetJSON(rpc+"/status", &st); err != nil {
		t.Fatal(err)
	}
	earliest, _ := strconv.ParseInt(st.Result.SyncInfo.Earliest, 10, 64)
	if earliest <= 1 {
		t.Fatalf("the new node did not state-sync: earliest block %q", st.Result.SyncInfo.Earliest)
	}
	// It executes the chain's blocks itself: past a height node 0 has now, its app hash is
	// node 0's (the restored state is the network's).
	h := net.Height(t, 0)
	var mine, theirs string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var blk struct {
			Result struct {
				Block struct {
					Header struct {
						AppHash string `json:"app_hash"`
					} `json:"header"`
				} `json:"block"`
			} `json:"result"`
		}
		err := localnet.GetJSON(fmt.Sprintf("%s/block?height=%d", rpc, h+1), &blk)
		if mine = blk.Result.Block.Header.AppHash; err == nil && mine != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new node did not reach height %d: %v", h+1, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	theirs, err := net.AppHashAt(0, h)
	if err != nil || mine != theirs {
		t.Fatalf("app hash after block %d: the new node %s, node 0 %s (%v)", h, mine, theirs, err)
	}
	// Its operator is a registered build validator, seen from node 0.
	opAddr := operatorAddr(t, home)
	if r := net.CLI("query", "validators", "validator", opAddr, "-o", "json"); r.Err != nil {
		t.Fatalf("operator %s is not a build validator: %v %s", opAddr, r.Err, r.Stderr)
	}
	// Its sidecar follows the state-synced node from its earliest block on.
	var sc struct {
		Validator  string `json:"validator"`
		LastHeight int64  `json:"last_height"`
	}
	if err := localnet.GetJSON(fmt.Sprintf("http://127.0.0.1:%d/status", p+11), &sc); err != nil {
		t.Fatal(err)
	}
	if sc.Validator != opAddr || sc.LastHeight < earliest {
		t.Fatalf("the new sidecar's status %+v: want validator %s, last height >= %d", sc, opAddr, earliest)
	}
	t.Logf("operator guide: joined by state sync from height %d, build validator %s, in %s",
		earliest, opAddr, time.Since(start).Round(time.Millisecond))
	joinedBuilderBuilds(t, net, opAddr)
}

// builderPeers are the libp2p addresses of net's builders (localnet.sh peers), the
// BUILDER_PEERS a network hands its new operators.
func builderPeers(t *testing.T, net *localnet.Net) string {
	t.Helper()
	out, err := net.Script("peers")
	peers := strings.TrimSpace(out)
	if err != nil || !strings.Contains(peers, "/p2p/") {
		t.Fatalf("localnet.sh peers: %v %q", err, out)
	}
	return peers
}

// joinedBuilderBuilds shows that the joined build validator addr builds: val0 publishes
// variants of examples/hello until one claim has a round assigned to addr, and that claim
// ends VALID with addr's round AGREED: the joined sidecar fetched the derivation and its
// inputs from the network, rebuilt it in its sandbox and reported the same output. The
// rounds of a claim are drawn among four equally bonded builders (min_rounds 2), so a claim
// misses addr with probability about 1/2; all of maxClaims claims missing it, 2^-16.
func joinedBuilderBuilds(t *testing.T, net *localnet.Net, addr string) {
	t.Helper()
	const maxClaims = 16
	start := time.Now()
	home := t.TempDir()
	peers := builderPeers(t, net)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, net.Binary, args...)
		cmd.Env = append(os.Environ(), "BUILDCHAIN_HOME="+home, "HOME="+home)
		bz, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("buildchaind %s: %v\n%s", strings.Join(args, " "), err, bz)
		}
		return string(bz)
	}
	run("bootstrap")
	tmpl, err := os.ReadFile(filepath.Join(localnet.RepoRoot(), "examples", "hello", "hello.json"))
	if err != nil {
		t.Fatal(err)
	}
	claimRe := regexp.MustCompile(`VALID: \S+ builds to \S+ \(claim (\d+),`)
	for i := 0; i < maxClaims; i++ {
		// A variant: the same build with one more environment variable, a new derivation.
		variant := strings.Replace(string(tmpl), `"env": {"LANG": "C"}`,
			fmt.Sprintf(`"env": {"LANG": "C", "JOIN_TRY": "%d"}`, i), 1)
		if variant == string(tmpl) {
			t.Fatal("examples/hello/hello.json has no env {\"LANG\": \"C\"} to extend")
		}
		file := filepath.Join(home, fmt.Sprintf("hello-%d.json", i))
		if err := os.WriteFile(file, []byte(variant), 0o644); err != nil {
			t.Fatal(err)
		}
		drv := strings.TrimSpace(run("drv", "add", file))
		run("publish", drv, "--from", "val0", "--home", net.Home(0), "--keyring-backend", "test",
			"--keyring-dir", net.Home(0), "--peer", peers, "--mdns=false", "--wait-timeout", "4m", "-y")
		m := claimRe.FindStringSubmatch(run("verify", drv, "--home", net.Home(0), "--no-fetch"))
		if m == nil {
			t.Fatalf("claim %d of the joined builder's test is not VALID", i)
		}
		id, _ := strconv.ParseUint(m[1], 10, 64)
		c := getClaimREST(t, net, 0, id)
		for _, a := range c.Assignments {
			if a.Validator != addr {
				continue
			}
			if a.Status != "ROUND_STATUS_AGREED" {
				t.Fatalf("claim %d: the joined builder's round %d is %s, want AGREED: %+v", id, a.Round, a.Status, c)
			}
			t.Logf("the joined builder %s rebuilt claim %d (round %d; claims published: %d) in %s",
				addr, id, a.Round, i+1, time.Since(start).Round(time.Millisecond))
			return
		}
	}
	t.Fatalf("none of %d claims assigned a round to the joined builder %s", maxClaims, addr)
}

// operatorAddr is the address of the key the operator guide made (keys add --output json).
func operatorAddr(t *testing.T, home string) string {
	t.Helper()
	var k struct {
		Address string `json:"address"`
	}
	readJSON(t, filepath.Join(home, "operator.key.json"), &k)
	return k.Address
}
