package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dbm "github.com/cosmos/cosmos-db"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"

	"cosmossdk.io/log"

	"github.com/buildchain/buildchain/app"
)

// duration is how long the perturbation schedule runs: one cycle (about 2 minutes) by
// default, BUILDCHAIN_CHAOS_DURATION (e.g. 30m) in `make chaos`.
func duration(t *testing.T) time.Duration {
	if s := os.Getenv("BUILDCHAIN_CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("BUILDCHAIN_CHAOS_DURATION: %v", err)
		}
		return d
	}
	return 0 // one cycle
}

// make test runs one cycle (the default); make chaos sets BUILDCHAIN_CHAOS_DURATION. Runs and
// their figures: docs/reliability.md. Where the kernel has no sch_netem, latency and loss are made
// with an NFQUEUE and iptables (delay_test.go).
//
// TestChaos runs 4 authorities, a full node and 3 builders, each in its own network namespace,
// under a steady load of claims (two honest publishers, one lying one) and bank sends, through
// a schedule of perturbations, then checks what an operator fears and prints the figures.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: a 9-process network under faults")
	}
	ns := inner(t)
	// Short report deadlines so a killed or cut-off builder's round is reassigned within a
	// cycle; short market windows so the lying claim is decided within one.
	c := newCluster(t, ns, `.app_state.claims.params.report_timeout_blocks = "30"
		| .app_state.market.params.commit_blocks = "10" | .app_state.market.params.reveal_blocks = "10"`)
	start := c.minHeight()
	all, cancelAll := context.WithCancel(context.Background())
	l := &load{c: c, ctx: all}
	logf := func(format string, args ...any) {
		t.Logf("[%5.1fs] %s", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
	}

	ctx, stopLoad := context.WithCancel(all)
	var wg sync.WaitGroup
	// Runs before the cluster's own clean-up (stopping its processes): a failed test ends its
	// load first.
	t.Cleanup(func() { cancelAll(); wg.Wait() })
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	val3 := c.net.Addr(t, "val3")
	run(func() { l.publisher(ctx, "p0", "val0", fullNode) })
	run(func() { l.publisher(ctx, "p1", "val1", 3) })
	run(func() { l.sender(ctx, "val2", val3, fullNode) })

	netem := "not applied"
	total := duration(t)
	var events []string
	cycles, began := 0, time.Now()
	for ; cycles == 0 || time.Since(began) < total; cycles++ {
		events = append(events, c.cycle(l, cycles, logf, &netem)...)
	}
	perturbed := time.Since(began)
	logf("stopping the load")
	stopLoad()
	wg.Wait()
	// The drain and the checks are no perturbation: every link gets its speed back.
	c.ns.clearPerturbations()

	// Drain: every claim gets its verdict (deadlines are 20 blocks, markets 20).
	drainStart := time.Now()
	var open []string
	for {
		open = open[:0]
		for _, id := range l.claims {
			cl, err := c.claim(id)
			if err != nil || !finished(cl.Status) {
				open = append(open, fmt.Sprintf("%d (%s %v)", id, cl.Status, err))
			}
		}
		if len(open) == 0 || time.Since(drainStart) > 3*time.Minute {
			break
		}
		time.Sleep(time.Second)
	}
	end := c.minHeight()

	// Figures.
	statuses := map[string]int{}
	for _, id := range l.claims {
		cl, _ := c.claim(id)
		statuses[cl.Status]++
	}
	lost := c.checkTxsEverywhere(l.committed)
	hashes := c.appHashMismatches(1, end-1)
	a := app.New(log.NewNopLogger(), dbm.NewMemDB(), nil, true, simtestutil.NewAppOptionsWithFlagHome(t.TempDir()))
	counts, undecodable := c.messageCounts(a, start, end)
	var twice []string
	for k, n := range counts {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s sent %d times", k, n))
		}
	}
	sort.Strings(twice)
	c.stop(nodeName(fullNode))
	checked, broken, err := invariantsOf(c.net.Home(fullNode))
	if err != nil {
		t.Fatalf("invariants: %v", err)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "chaos figures (%s of perturbations, %d cycles, %d events):\n", perturbed.Round(time.Second), cycles, len(events))
	fmt.Fprintf(&b, "  perturbations: %s\n", strings.Join(events, "; "))
	fmt.Fprintf(&b, "  latency and loss: %s\n", netem)
	fmt.Fprintf(&b, "  blocks produced: %d (heights %d..%d)\n", end-start, start, end)
	fmt.Fprintf(&b, "  claims submitted %d, finished %d, still open %d (%v); publishes %d, without a verdict %d\n",
		len(l.claims), len(l.claims)-len(open), len(open), statuses, l.publishes, len(l.failed))
	fmt.Fprintf(&b, "  txs committed %d, missing or different on some node %d; bank sends dropped after CheckTx %d, refused %d\n",
		len(l.committed), len(lost), l.dropped, l.rejected)
	fmt.Fprintf(&b, "  app hashes compared at %d heights on 5 nodes: %d mismatches\n", end-1, len(hashes))
	fmt.Fprintf(&b, "  validation messages %d, sent twice %d; undecodable txs %d\n", len(counts), len(twice), undecodable)
	fmt.Fprintf(&b, "  invariants %d checked on the full node's final state, %d broken\n", len(checked), len(broken))
	t.Log(b.String())
	for _, f := range l.failed {
		t.Logf("publish without a verdict: %s", f)
	}

	if len(l.claims) == 0 || statuses["CLAIM_STATUS_VALID"] == 0 {
		t.Errorf("no claim was verified under load (%v)", statuses)
	}
	if len(open) > 0 {
		t.Errorf("claims stuck 3 minutes after the load stopped: %v", open)
	}
	for _, s := range lost {
		t.Errorf("committed tx lost: %s", s)
	}
	for _, s := range hashes {
		t.Errorf("app hash: %s", s)
	}
	for _, s := range twice {
		t.Errorf("message twice: %s", s)
	}
	for _, s := range broken {
		t.Errorf("invariant broken: %s", s)
	}
	if t.Failed() {
		for _, name := range []string{"node0.log", "node1.log", "node2.log", "builder0.log", "builder1.log", "builder2.log"} {
			t.Logf("--- %s (tail)\n%s", name, tail(filepath.Join(c.dir, name), 15))
		}
	}
}

var t0 = time.Now()

// cycle runs one round of the perturbation schedule (about 2 minutes) and returns what it did.
func (c *cluster) cycle(l *load, n int, logf func(string, ...any), netem *string) []string {
	var did []string
	note := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		logf("%s", s)
		did = append(did, s)
	}
	t := c.t
	a := 1 + n%2 // the authority to crash (1 or 2); the other one is paused
	p := 3 - a

	// The two publishers of the last steps prepare their stores and derivations (bootstraps,
	// a local build: tens of seconds on a loaded machine) while the chain is perturbed, not
	// after: the steps only need them ready when they publish.
	prepared := make(chan cyclePrep, 1)
	go func() { prepared <- c.prepareCycle(l, n) }()

	note("kill -9 authority %d", a)
	c.kill9(nodeName(a))
	c.waitBlocks(5)
	c.startNode(a)
	note("authority %d restarted", a)

	note("SIGSTOP authority %d for 15 s", p)
	c.signal(nodeName(p), syscall.SIGSTOP)
	c.waitBlocks(3)
	time.Sleep(15 * time.Second) // the pause itself is the perturbation: longer than CometBFT's round timeouts
	c.signal(nodeName(p), syscall.SIGCONT)
	note("authority %d resumed", p)

	if n == 0 {
		// A third of the links (the full node's, one authority's, one builder's) get 200 ms
		// and 2% loss: tc netem where the kernel has it, else an NFQUEUE hold and an iptables
		// drop (delay_test.go).
		third := []host{hosts[authorities], hosts[3], hosts[authorities+1+2]}
		how := "tc netem"
		for k, h := range third {
			ok, err := c.ns.addLatency(h, 200, 2)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				continue
			}
			if why := iptablesUnavailable(); why != "" {
				how = "none: this kernel has no sch_netem and " + why
				break
			}
			how = "NFQUEUE hold + iptables statistic drop (this kernel has no sch_netem)"
			if _, err := c.ns.startDelay(h, uint16(10+k), 200*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if err := c.ns.addLoss(h, 2); err != nil {
				t.Fatal(err)
			}
		}
		*netem = "200 ms and 2% loss on every packet sent by the full node, authority 3 and builder 2, by " + how
		note("latency: %s", *netem)
	}

	b := n % 3
	note("partition builder %d", b)
	if err := c.ns.setLink(hostOfSlot(authorities+b), false); err != nil {
		t.Fatal(err)
	}
	c.waitBlocks(20)
	if err := c.ns.setLink(hostOfSlot(authorities+b), true); err != nil {
		t.Fatal(err)
	}
	note("builder %d reconnected", b)

	// Kill a builder mid-build: a slow derivation (its build sleeps 8 s); the builder it is
	// assigned to is killed while building and restarted.
	prep := <-prepared
	if prep.err != nil {
		t.Fatal(prep.err)
	}
	home, drv := prep.slowHome, prep.slowDrv
	slow := make(chan uint64, 1)
	go func() { id, _, _ := l.publish(home, "val3", 0, drv, ""); slow <- id }()
	victim := c.waitAssigned(drv)
	if victim >= 0 {
		time.Sleep(3 * time.Second) // inside the 8 s build
		note("kill -9 builder %d mid-build", victim)
		c.kill9(builderName(victim))
		c.startBuilder(victim)
		note("builder %d restarted", victim)
	}
	<-slow

	// Restart a sidecar mid-prediction: a lying claim (it names the bootstrap tools as the
	// output) is disputed; once its market opened, builder m is restarted.
	liar, lie, bootCID := prep.liarHome, prep.lie, prep.bootCID
	lying := make(chan uint64, 1)
	go func() { id, _, _ := l.publish(liar, "val3", 0, lie, bootCID); lying <- id }()
	m := (n + 1) % 3
	if c.waitDisputed(lie) {
		time.Sleep(2 * time.Second) // predictions are being committed
		note("restart builder %d mid-prediction", m)
		c.kill9(builderName(m))
		c.startBuilder(m)
	} else {
		note("the lying claim was not disputed within 2 minutes")
	}
	<-lying
	return did
}

// cyclePrep is what prepareCycle made for cycle n: the slow derivation (its build sleeps 8 s)
// and the lying claim's derivation with the output it lies about (the bootstrap tools).
type cyclePrep struct {
	slowHome, slowDrv      string
	liarHome, lie, bootCID string
	err                    error
}

// prepareCycle bootstraps the stores of cycle n's two publishers and writes their
// derivations; the lie is built locally, which resolves it as --claim-output needs.
func (c *cluster) prepareCycle(l *load, n int) (p cyclePrep) {
	p.slowHome = filepath.Join(c.dir, "pub-slow")
	if _, p.err = l.cli(p.slowHome, "bootstrap"); p.err != nil {
		return p
	}
	if p.slowDrv, p.err = l.derivation(p.slowHome, fmt.Sprintf("slow-%d", n), 8); p.err != nil {
		return p
	}
	p.liarHome = filepath.Join(c.dir, "pub-liar")
	if _, p.err = l.cli(p.liarHome, "bootstrap"); p.err != nil {
		return p
	}
	var boot string
	if boot, p.err = l.cli(p.liarHome, "bootstrap"); p.err != nil {
		return p
	}
	if p.lie, p.err = l.derivation(p.liarHome, fmt.Sprintf("lie-%d", n), 0); p.err != nil {
		return p
	}
	if _, p.err = l.cli(p.liarHome, "build", p.lie); p.err != nil {
		return p
	}
	p.bootCID = strings.TrimSpace(lastLines(boot, 1))
	return p
}

// waitBlocks waits until the full node has produced k more blocks.
func (c *cluster) waitBlocks(k int64) {
	s, err := c.net.Status(fullNode)
	if err != nil {
		c.t.Fatal(err)
	}
	c.net.WaitHeight(c.t, fullNode, s.Height+k, 2*time.Minute)
}

// claimsOf returns the claims about a derivation (REST, full node).
func (c *cluster) claimsOf(drv string) []claimInfo {
	var out struct {
		Claims []claimInfo `json:"claims"`
	}
	_ = c.net.RESTErr(fullNode, "/buildchain/claims/v1/derivations/"+drv+"/claims", &out)
	return out.Claims
}

// waitAssigned waits until a claim about drv has an open assignment and returns the builder's
// index, or -1 after 2 minutes.
func (c *cluster) waitAssigned(drv string) int {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, cl := range c.claimsOf(drv) {
			for _, a := range cl.Assignments {
				if a.Status == "ROUND_STATUS_ASSIGNED" {
					for j, addr := range c.builderAddr {
						if a.Validator == addr {
							return j
						}
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return -1
}

// waitDisputed waits until a claim about drv is disputed (its market open).
func (c *cluster) waitDisputed(drv string) bool {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, cl := range c.claimsOf(drv) {
			if cl.Status == "CLAIM_STATUS_DISPUTED" {
				return true
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}
