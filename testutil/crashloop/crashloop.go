// Package crashloop is the kill -9 loop the crash tests share (issue 13): the test binary
// re-executes itself as a child that works on real state and prints a line before or after each
// step, the parent kills it at a random point, then checks the state the child left.
//
// The child side: Child(env) tells a re-executed binary its argument (TestMain calls the
// package's child function first), Say prints a step line the parent reads. The parent side:
// Kills is CRASHLOOP_KILLS (`make crashloop` sets 50), Rand the loop's random source, Start
// runs a child and hands back its lines.
//
// Users: node/storefs (TestCrashLoop), node/sidecar (TestStateCrashLoop), node/p2p
// (TestFetchCrashLoop), and tests/e2e (TestChainCrashLoop, Kills and Rand only: its child is a
// real node).
package crashloop

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Kills is how many kills a crash loop does: CRASHLOOP_KILLS if set, else def (the short run of
// `make test`).
func Kills(t testing.TB, def int) int {
	v := os.Getenv("CRASHLOOP_KILLS")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("CRASHLOOP_KILLS=%q: want a count", v)
	}
	return n
}

// Rand is the random source of a crash loop's kill points, seeded by the pid so that runs differ.
func Rand() *rand.Rand { return rand.New(rand.NewPCG(uint64(os.Getpid()), 13)) }

// Child returns the argument the parent gave a child in env, or "" in the parent.
func Child(env string) string { return os.Getenv(env) }

// Say prints one step line for the parent, flushed at once (the kill may come next).
func Say(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
	os.Stdout.Sync()
}

// Die prints "ERR ..." (which fails the parent's test) and exits.
func Die(format string, args ...any) {
	Say("ERR "+format, args...)
	os.Exit(3)
}

// Proc is a running child.
type Proc struct {
	t     testing.TB
	cmd   *exec.Cmd
	lines chan string
	last  string
}

// Start re-executes the test binary (running no test) with env=arg, so that its TestMain runs
// the child.
func Start(t testing.TB, env, arg string) *Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+arg)
	// A pipe of our own rather than StdoutPipe: Wait closes that one, losing the lines the
	// child printed just before its kill, which the sidecar's check needs.
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		out.Close()
		t.Fatal(err)
	}
	p := &Proc{t: t, cmd: cmd, lines: make(chan string, 64)}
	go func() {
		defer out.Close()
		r := bufio.NewScanner(out)
		for r.Scan() {
			p.lines <- strings.TrimSpace(r.Text())
		}
		close(p.lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

// Next returns the child's next line, failing the test if the child printed "ERR ...", its
// output ended or it said nothing for 3 minutes.
func (p *Proc) Next() string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("the child's output ended after %q", p.last)
		}
		if strings.HasPrefix(l, "ERR") {
			p.t.Fatalf("child: %s", l)
		}
		p.last = l
		return l
	case <-time.After(3 * time.Minute):
		p.t.Fatalf("the child said nothing for 3 minutes after %q", p.last)
	}
	return ""
}

// Last is the last line Next returned.
func (p *Proc) Last() string { return p.last }

// Kill sends SIGKILL, waits for the child to die and returns the lines it printed before it
// died that Next had not returned yet. It fails the test if the child was dead already (it
// exited or crashed on its own): then nothing was killed where the test meant to kill it.
func (p *Proc) Kill() []string {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	var rest []string
	for l := range p.lines { // to the end of the output: the child is dead
		rest = append(rest, l)
	}
	_ = p.cmd.Wait()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		p.t.Fatalf("the child died before the kill (%v), after %q; its last lines: %q", p.cmd.ProcessState, p.last, rest)
	}
	return rest
}
