package storefs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/storefs/corpus"
)

// crashLoopEnv makes the re-executed test binary the crash-loop child (crashLoopChild).
const crashLoopEnv = "STOREFS_CRASHLOOP_CHILD"

// crashLoopChild adds files, pins every other one, unpins older ones and collects garbage, in a
// loop, printing a line before each step so the parent can kill it anywhere in the cycle; a line
// "PINNED <cid>" is printed only after Pin returned, so that root must survive any later kill.
func crashLoopChild() bool {
	root := os.Getenv(crashLoopEnv)
	if root == "" {
		return false
	}
	s, err := Open(root)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	ctx := context.Background()
	say := func(f string, a ...any) { fmt.Printf(f+"\n", a...); os.Stdout.Sync() }
	var pinned []cid.Cid
	for i := 0; ; i++ {
		say("ADD %d", i)
		c, err := s.AddReader(ctx, bytes.NewReader(corpus.Stream(fmt.Sprintf("loop-%d-%d", os.Getpid(), i), 300_000+i)), 0, AddOptions{})
		if err != nil {
			say("ERR add %v", err)
			os.Exit(3)
		}
		if i%2 == 0 {
			say("PIN %d", i)
			if err := s.Pin("crash", "loop", c); err != nil {
				say("ERR pin %v", err)
				os.Exit(3)
			}
			say("PINNED %s", c)
			pinned = append(pinned, c)
		}
		say("GC %d", i)
		if _, err := s.GC(ctx); err != nil {
			say("ERR gc %v", err)
			os.Exit(3)
		}
	}
}

// TestCrashLoop kills (SIGKILL) a process that adds, pins and collects garbage in a real store
// at random points, CRASHLOOP_KILLS times (default 5; `make crashloop` runs 50). After each kill
// the store opens, every block verifies and every root whose Pin had returned is still pinned
// with its whole closure present.
func TestCrashLoop(t *testing.T) {
	kills := 5
	if v := os.Getenv("CRASHLOOP_KILLS"); v != "" {
		var err error
		if kills, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 13))
	var pinned []cid.Cid
	ctx := context.Background()
	for k := 0; k < kills; k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashLoopEnv+"="+root)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of step lines: each line is printed right before the step
		// runs, so the kill lands inside adds, pins and GCs.
		r := bufio.NewReader(out)
		steps := 1 + rng.IntN(12)
		var last string
		for n := 0; n < steps; n++ {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("kill %d: child output ended: %q %v", k, last, err)
			}
			last = strings.TrimSpace(line)
			if strings.HasPrefix(last, "ERR") {
				t.Fatalf("kill %d: child: %s", k, last)
			}
			if c, ok := strings.CutPrefix(last, "PINNED "); ok {
				pinned = append(pinned, cid.MustParse(c))
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		s, err := Open(root)
		if err != nil {
			t.Fatalf("kill %d (after %q): open: %v", k, last, err)
		}
		bad, n, err := s.Verify(ctx)
		if err != nil || len(bad) > 0 {
			t.Fatalf("kill %d (after %q): verify %d blocks: %v %v", k, last, n, bad, err)
		}
		pins, err := s.ListPins()
		if err != nil {
			t.Fatal(err)
		}
		have := map[cid.Cid]bool{}
		for _, p := range pins {
			have[p.CID] = true
		}
		for _, c := range pinned {
			if !have[c] {
				t.Fatalf("kill %d (after %q): pinned root %s lost its pin", k, last, c)
			}
			if _, err := s.Closure(c); err != nil {
				t.Fatalf("kill %d (after %q): pinned root %s: %v", k, last, c, err)
			}
		}
		s.Close()
	}
	t.Logf("%d kills, %d pinned roots intact", kills, len(pinned))
}
