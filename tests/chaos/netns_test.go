package chaos

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The test network: one network namespace per host, each with one veth pair whose other end
// is a port of a bridge in the control namespace. The test process itself is re-executed in
// the control namespace (TestMain), so every address it talks to exists only inside the
// namespaces this test made; nothing is configured on the machine's own interfaces.
const (
	subnet   = "10.213.0"
	ctlIP    = subnet + ".1"
	envInner = "BUILDCHAIN_CHAOS_NETNS" // set in the re-executed test: the namespace prefix
)

// host is one machine of the test network.
type host struct {
	name string // namespace suffix and veth name (short: interface names are <= 15 bytes)
	ip   string
}

// hosts: 4 authorities, 1 full node, 3 builders. Authority i is localnet node i; the full node
// is node 4 (it has no stake).
var hosts = func() []host {
	var hs []host
	for i := 0; i < 5; i++ {
		hs = append(hs, host{name: fmt.Sprintf("n%d", i), ip: fmt.Sprintf("%s.%d", subnet, 10+i)})
	}
	for j := 0; j < 3; j++ {
		hs = append(hs, host{name: fmt.Sprintf("b%d", j), ip: fmt.Sprintf("%s.%d", subnet, 20+j)})
	}
	return hs
}()

// netns is the set of namespaces of one test process.
type netns struct{ prefix string }

func (n netns) ctl() string      { return n.prefix + "-ctl" }
func (n netns) of(h host) string { return n.prefix + "-" + h.name }

// exec is argv run in h's namespace. nsenter enters the network namespace only: `ip netns exec`
// would also remount /sys for it, hiding /sys/fs/cgroup from the builds the process runs (the
// sandbox needs it to limit them).
func (n netns) exec(h host, argv ...string) []string {
	return enter(n.of(h), argv...)
}

func enter(ns string, argv ...string) []string {
	return append([]string{"nsenter", "--net=/run/netns/" + ns, "--"}, argv...)
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// setup makes the control namespace with its bridge and one namespace per host.
func (n netns) setup() error {
	steps := [][]string{
		{"netns", "add", n.ctl()},
		{"-n", n.ctl(), "link", "set", "lo", "up"},
		{"-n", n.ctl(), "link", "add", "br0", "type", "bridge"},
		{"-n", n.ctl(), "addr", "add", ctlIP + "/24", "dev", "br0"},
		{"-n", n.ctl(), "link", "set", "br0", "up"},
	}
	for _, h := range hosts {
		steps = append(steps,
			[]string{"netns", "add", n.of(h)},
			[]string{"-n", n.of(h), "link", "set", "lo", "up"},
			[]string{"-n", n.ctl(), "link", "add", "v" + h.name, "type", "veth", "peer", "name", "eth0", "netns", n.of(h)},
			[]string{"-n", n.ctl(), "link", "set", "v" + h.name, "master", "br0", "up"},
			[]string{"-n", n.of(h), "addr", "add", h.ip + "/24", "dev", "eth0"},
			[]string{"-n", n.of(h), "link", "set", "eth0", "up"},
		)
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			n.teardown()
			return err
		}
	}
	return nil
}

func (n netns) teardown() {
	for _, h := range hosts {
		_ = ip("netns", "del", n.of(h))
	}
	_ = ip("netns", "del", n.ctl())
}

// setLink takes host h off the bridge (partition) or puts it back.
func (n netns) setLink(h host, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ip("-n", n.ctl(), "link", "set", "v"+h.name, state)
}

// addLatency delays every packet leaving the bridge towards h and drops loss percent of them
// (tc netem). It reports false, nil when this kernel has no netem qdisc.
func (n netns) addLatency(h host, ms, loss int) (bool, error) {
	out, err := exec.Command("tc", "-n", n.ctl(), "qdisc", "add", "dev", "v"+h.name, "root", "netem",
		"delay", fmt.Sprintf("%dms", ms), "loss", fmt.Sprintf("%d%%", loss)).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "qdisc kind is unknown") {
			return false, nil
		}
		return false, fmt.Errorf("tc netem on %s: %v: %s", h.name, err, out)
	}
	return true, nil
}

// clearPerturbations takes the latency and loss off every link and puts every host back on the
// bridge (best effort: what was not applied fails to be removed).
func (n netns) clearPerturbations() {
	for _, h := range hosts {
		_ = exec.Command("tc", "-n", n.ctl(), "qdisc", "del", "dev", "v"+h.name, "root").Run()
		if iptablesUnavailable() == "" {
			_ = iptables(n.of(h), "-F OUTPUT")
		}
		_ = n.setLink(h, true)
	}
}

// netnsUnavailable says why this machine cannot make the test network, or "".
func netnsUnavailable() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces)"
	}
	for _, tool := range []string{"ip", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "needs " + tool + " (iproute2, util-linux)"
		}
	}
	return ""
}

// TestMain runs the tests inside the control namespace: the outer process makes the
// namespaces, re-executes the test binary in the control namespace and removes them after.
func TestMain(m *testing.M) {
	if os.Getenv(envInner) != "" || netnsUnavailable() != "" {
		os.Exit(m.Run()) // inside, or a machine that cannot: the tests say why they skip
	}
	ns := netns{prefix: fmt.Sprintf("bcx%04x", rand.IntN(1<<16))}
	if err := ns.setup(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: network namespaces:", err)
		os.Exit(1)
	}
	argv := enter(ns.ctl(), os.Args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), envInner+"="+ns.prefix)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	ns.teardown()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// inner returns the namespaces of this (re-executed) test process.
func inner(t *testing.T) netns {
	t.Helper()
	if why := netnsUnavailable(); why != "" {
		t.Skip(why)
	}
	p := os.Getenv(envInner)
	if p == "" {
		t.Fatal("not running inside the control namespace (TestMain did not re-execute)")
	}
	return netns{prefix: p}
}
