package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// TestGuides runs every `sh doctest` block of docs/ (the operator guide only with
// E2E_OPERATOR_GUIDE=1, see below) against a localnet of one authority and
// one build validator: the derivation reference and the publisher guide as a user (publish
// hello until VALID, verify, install), then the operator guide on a fresh home, as another
// machine would: init, the genesis from the network's RPC, peers, state sync from the
// authority's snapshots, start, register as a build validator, run the sidecar. It checks
// that the new node state-synced (its earliest block is not 1) and that its builder is a
// registered build validator.
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
	// buildchaind on PATH, as the guides call it.
	path := filepath.Dir(net.Binary) + ":" + os.Getenv("PATH")
	base := append(os.Environ(), "PATH="+path, "HOME="+t.TempDir())

	// As a user: the derivation reference, then the publisher guide.
	user := filepath.Join(net.Dir, "guide-user")
	pub := newGuideRunner(t, append(base, "BUILDCHAIN_HOME="+user, "NODE_HOME="+net.Home(0), "KEY=val0",
		"PEERS="+strings.TrimSpace(peers)))
	pub.run(docBlocks(t, filepath.Join(localnet.RepoRoot(), "docs", "derivations.md")))
	pub.run(docBlocks(t, filepath.Join(localnet.RepoRoot(), "docs", "publisher-guide.md")))
	t.Logf("publisher guide done after %s", time.Since(start).Round(time.Millisecond))

	// The operator guide's run is opt-in for now: its state sync reaches a snapshot (the
	// light client verifies it) but the restore has failed with "a restore operation is in
	// progress: conflict" after a first aborted attempt (snapshots pruned during a slow
	// download on a loaded machine are the suspect; the test now waits for interval 20).
	if os.Getenv("E2E_OPERATOR_GUIDE") == "" {
		t.Log("operator guide not run (set E2E_OPERATOR_GUIDE=1): its state-sync join is not reliable yet")
		return
	}

	// As an operator on another machine: a fresh home, only the network's addresses. The
	// localnet's port block has room after node 0 and builder 0 (slots 0, 1).
	p := net.PortBase
	home := filepath.Join(t.TempDir(), "joiner")
	op := newGuideRunner(t, append(base,
		"CHAIN_ID="+net.ChainID, "SEED_RPC="+net.RPCAddr(0), "SEED_P2P=127.0.0.1:"+strconv.Itoa(p),
		"NODE_HOME="+home, "MONIKER=joiner", "KEY=operator",
		"P2P_PORT="+strconv.Itoa(p+30), "RPC_PORT="+strconv.Itoa(p+31), "API_PORT="+strconv.Itoa(p+32),
		"GRPC_PORT="+strconv.Itoa(p+33), "ABCI_PORT="+strconv.Itoa(p+35),
		"SIDECAR_P2P_PORT="+strconv.Itoa(p+40), "SIDECAR_METRICS_PORT="+strconv.Itoa(p+41),
		// Test-only: every node here is on 127.0.0.1, which CometBFT's address book refuses
		// by default (set through the node's environment, not the guide).
		"BUILDCHAIND_P2P_ADDR_BOOK_STRICT=false", "BUILDCHAIND_P2P_ALLOW_DUPLICATE_IP=true",
		"BUILDCHAIN_HOME="+filepath.Join(home, "user")))
	// State sync needs a snapshot: the authority takes one every 20 blocks.
	net.WaitHeight(t, 0, 45, 2*time.Minute)
	// What someone else does on a real network: send the new operator BCT.
	op.hooks["register"] = func() {
		net.Tx(t, "tx", "bank", "send", "alice", operatorAddr(t, home), "100000000000ubct")
	}
	op.run(docBlocks(t, filepath.Join(localnet.RepoRoot(), "docs", "operator-guide.md")))

	// The joiner state-synced: its earliest block is the snapshot's, and it follows the chain.
	var st struct {
		Result struct {
			SyncInfo struct {
				Earliest string `json:"earliest_block_height"`
				Latest   string `json:"latest_block_height"`
			} `json:"sync_info"`
		} `json:"result"`
	}
	if err := localnet.GetJSON(fmt.Sprintf("http://127.0.0.1:%d/status", p+31), &st); err != nil {
		t.Fatal(err)
	}
	if e, _ := strconv.Atoi(st.Result.SyncInfo.Earliest); e <= 1 {
		t.Fatalf("the new node did not state-sync: earliest block %q", st.Result.SyncInfo.Earliest)
	}
	// Its operator is a registered build validator, seen from the authority.
	opAddr := operatorAddr(t, home)
	if r := net.CLI("query", "validators", "validator", opAddr, "-o", "json"); r.Err != nil {
		t.Fatalf("operator %s is not a build validator: %v %s", opAddr, r.Err, r.Stderr)
	}
	t.Logf("guides done after %s (the joiner state-synced from height %s)", time.Since(start).Round(time.Millisecond), st.Result.SyncInfo.Earliest)
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
