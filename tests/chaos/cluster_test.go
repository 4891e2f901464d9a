package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// Node indices in localnet terms: authorities 0-3 and the full node at slot 7 (slots 4-6 are
// the builders' ports in scripts/localnet.sh).
const (
	authorities = 4
	fullNode    = 7
)

var builderKeys = []string{"alice", "bob", "carol"}

// cluster is the running test network: the localnet's homes, rewritten to listen on the hosts'
// addresses, with each node and sidecar started in its own namespace.
type cluster struct {
	t     *testing.T
	ns    netns
	net   *localnet.Net
	dir   string
	mu    sync.Mutex
	procs map[string]*proc
	// builderPeer[j] is builder j's libp2p address on its namespace's address.
	builderPeer []string
	// builderAddr[j] is builder j's account (bech32).
	builderAddr []string
}

// proc is one process of the cluster (a node or a sidecar).
type proc struct {
	argv []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// hostOfSlot returns the host whose namespace serves localnet slot s.
func hostOfSlot(s int) host {
	switch {
	case s < authorities:
		return hosts[s]
	case s == fullNode:
		return hosts[authorities]
	default: // builder j = slot authorities+j
		return hosts[authorities+1+(s-authorities)]
	}
}

func nodeName(i int) string { return hostOfSlot(i).name }

// newCluster makes the chain with scripts/localnet.sh on the control namespace's loopback
// (genesis, keys, the three build validators registered on chain), stops it, adds a full node,
// rewrites every address to the namespaces' and starts everything in its namespace.
func newCluster(t *testing.T, ns netns, genesisJQ string) *cluster {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "net")
	net := localnet.New(t, localnet.Options{Nodes: authorities, Dir: dir, GenesisJQ: genesisJQ})
	c := &cluster{t: t, ns: ns, net: net, dir: dir, procs: map[string]*proc{}}
	t.Cleanup(c.stopAll)
	if out, err := net.ScriptEnv([]string{"LOCALNET_BUILDERS=3"}, "start", strconv.Itoa(authorities)); err != nil {
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, l := range logs {
			t.Logf("--- %s (tail)\n%s", filepath.Base(l), tail(l, 20))
		}
		t.Fatalf("localnet start: %v\n%s", err, out)
	}
	if out, err := net.Script("stop"); err != nil {
		t.Fatalf("localnet stop: %v\n%s", err, out)
	}
	t.Logf("[%5.1fs] chain made on loopback (genesis, builders registered)", time.Since(t0).Seconds())
	for _, k := range builderKeys {
		c.builderAddr = append(c.builderAddr, net.Addr(t, k))
	}
	c.addFullNode()

	net.Hosts = make([]string, fullNode+1)
	for s := range net.Hosts {
		net.Hosts[s] = hostOfSlot(s).ip
	}
	port := regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
	for _, i := range []int{0, 1, 2, 3, fullNode} {
		for _, f := range []string{"config.toml", "app.toml", "client.toml"} {
			p := filepath.Join(net.Home(i), "config", f)
			bz, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			bz = port.ReplaceAllFunc(bz, func(m []byte) []byte {
				n, _ := strconv.Atoi(string(port.FindSubmatch(m)[1]))
				return []byte(fmt.Sprintf("%s:%d", hostOfSlot((n-net.PortBase)/10).ip, n))
			})
			if err := os.WriteFile(p, bz, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, i := range []int{0, 1, 2, 3, fullNode} {
		c.startNode(i)
	}
	for _, i := range []int{0, 1, 2, 3, fullNode} {
		net.WaitHeight(t, i, 3, 2*time.Minute)
	}
	for j := range builderKeys {
		c.builderPeer = append(c.builderPeer, c.peerOf(j))
	}
	t.Logf("[%5.1fs] nodes running in their namespaces", time.Since(t0).Seconds())
	for j := range builderKeys {
		c.startBuilder(j)
	}
	t.Logf("[%5.1fs] builders running in their namespaces", time.Since(t0).Seconds())
	return c
}

// addFullNode initialises node 7: a node without stake that follows the authorities.
func (c *cluster) addFullNode() {
	t, net := c.t, c.net
	h := net.Home(fullNode)
	if out, err := exec.Command(net.Binary, "init", "full", "--chain-id", net.ChainID, "--home", h).CombinedOutput(); err != nil {
		t.Fatalf("init full node: %v\n%s", err, out)
	}
	// Node 3's configuration with node 3's ports moved to slot 7's.
	from := net.Home(authorities - 1)
	peers, err := os.ReadFile(filepath.Join(net.Home(0), "config", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	peersLine := regexp.MustCompile(`(?m)^persistent_peers = .*$`)
	old := regexp.MustCompile(`:(` + strconv.Itoa((net.PortBase+10*(authorities-1))/10) + `)(\d)\b`)
	for _, f := range []string{"genesis.json", "config.toml", "app.toml", "client.toml"} {
		bz, err := os.ReadFile(filepath.Join(from, "config", f))
		if err != nil {
			t.Fatal(err)
		}
		if f != "genesis.json" {
			bz = []byte(strings.ReplaceAll(string(bz), `moniker = "node3"`, `moniker = "full"`))
			bz = old.ReplaceAllFunc(bz, func(m []byte) []byte {
				return []byte(fmt.Sprintf(":%d%s", (net.PortBase+10*fullNode)/10, m[len(m)-1:]))
			})
			// ... but its peers are the four authorities, node 3 among them.
			bz = peersLine.ReplaceAll(bz, peersLine.Find(peers))
		}
		if err := os.WriteFile(filepath.Join(h, "config", f), bz, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// peerOf reads builder j's libp2p identity from the info.json its sidecar wrote during the
// loopback start and returns its address on the builder's namespace.
func (c *cluster) peerOf(j int) string {
	var info struct {
		PeerID string `json:"peer_id"`
	}
	bz, err := os.ReadFile(filepath.Join(c.builderHome(j), "sidecar", "info.json"))
	if err == nil {
		err = json.Unmarshal(bz, &info)
	}
	if err != nil || info.PeerID == "" {
		c.t.Fatalf("builder %d identity: %v (%s)", j, err, bz)
	}
	return fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", hostOfSlot(authorities+j).ip, c.builderP2PPort(j), info.PeerID)
}

func (c *cluster) builderHome(j int) string     { return filepath.Join(c.dir, fmt.Sprintf("builder%d", j)) }
func (c *cluster) builderP2PPort(j int) int     { return c.net.PortBase + 10*(authorities+j) }
func (c *cluster) builderMetricsPort(j int) int { return c.net.PortBase + 10*(authorities+j) + 1 }
func builderName(j int) string                  { return hostOfSlot(authorities + j).name }

// keyring flags: every test key lives in node 0's keyring.
func (c *cluster) keyring() []string {
	return []string{"--keyring-backend", "test", "--keyring-dir", c.net.Home(0)}
}

func (c *cluster) startNode(i int) {
	h := c.net.Home(i)
	c.start(nodeName(i), hostOfSlot(i), filepath.Join(c.dir, fmt.Sprintf("node%d.log", i)),
		c.net.Binary, "start", "--home", h, "--log_no_color")
}

// startBuilder starts builder j's sidecar against authority j (a full node's view would do as
// well) with the other builders as peers, and waits until it serves its status.
func (c *cluster) startBuilder(j int) {
	var peers []string
	for k, p := range c.builderPeer {
		if k != j {
			peers = append(peers, p)
		}
	}
	h := hostOfSlot(authorities + j)
	argv := append([]string{c.net.Binary, "node", "run", "--home", c.builderHome(j), "--from", builderKeys[j]}, c.keyring()...)
	argv = append(argv,
		"--node", fmt.Sprintf("tcp://%s:%d", c.net.Host(j), c.net.PortBase+10*j+1), "--chain-id", c.net.ChainID,
		"--store", filepath.Join(c.builderHome(j), "ipfs"),
		"--p2p-listen", fmt.Sprintf("/ip4/%s/tcp/%d", h.ip, c.builderP2PPort(j)),
		"--metrics-addr", fmt.Sprintf("%s:%d", h.ip, c.builderMetricsPort(j)),
		"--peer", strings.Join(peers, ","), "--log_no_color")
	c.start(builderName(j), h, filepath.Join(c.dir, fmt.Sprintf("builder%d.log", j)), argv...)
	url := fmt.Sprintf("http://%s:%d/status", h.ip, c.builderMetricsPort(j))
	c.waitFor(time.Minute, "builder "+strconv.Itoa(j)+" status", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// start runs argv in h's namespace, its output appended to log.
func (c *cluster) start(name string, h host, log string, argv ...string) {
	c.t.Helper()
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	full := c.ns.exec(h, argv...)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		c.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{argv: argv, log: log, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	c.mu.Lock()
	c.procs[name] = p
	c.mu.Unlock()
}

func (c *cluster) proc(name string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[name]
	if p == nil {
		c.t.Fatalf("no process %s", name)
	}
	return p
}

// signal sends sig to the process (nsenter execs the program, so the pid is its own).
func (c *cluster) signal(name string, sig syscall.Signal) {
	if err := c.proc(name).cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v to %s: %v", sig, name, err)
	}
}

// kill9 crashes the process and waits until it is gone.
func (c *cluster) kill9(name string) {
	p := c.proc(name)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		c.t.Fatalf("%s still alive 30 s after SIGKILL", name)
	}
}

// stop ends the process gracefully (SIGTERM; SIGKILL after 30 s).
func (c *cluster) stop(name string) {
	p := c.proc(name)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		c.kill9(name)
	}
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	names := make([]string, 0, len(c.procs))
	for n := range c.procs {
		names = append(names, n)
	}
	c.mu.Unlock()
	for _, n := range names {
		p := c.proc(n)
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	for _, h := range hosts {
		_ = c.ns.setLink(h, true)
	}
	// A killed sidecar leaves its FUSE store mount dead ("transport endpoint is not
	// connected"): detach it so the test's directory can be removed.
	for j := range builderKeys {
		_ = unix.Unmount(filepath.Join(c.builderHome(j), "ipfs", "store"), unix.MNT_DETACH)
	}
}

// waitFor polls cond every 200 ms until it holds or the timeout fails the test.
func (c *cluster) waitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tail returns the last n lines of a process's log (for failure messages).
func tail(path string, n int) string {
	bz, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(bz), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
