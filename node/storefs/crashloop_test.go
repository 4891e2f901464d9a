package storefs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/storefs/corpus"
	"github.com/buildchain/buildchain/testutil/crashloop"
)

// crashLoopEnv makes the re-executed test binary the crash-loop child (crashLoopChild).
const crashLoopEnv = "STOREFS_CRASHLOOP_CHILD"

// crashLoopChild adds files, pins every other one, unpins older ones and collects garbage, in a
// loop, printing a line before each step so the parent can kill it anywhere in the cycle; a line
// "PINNED <cid>" is printed only after Pin returned, so that root must survive any later kill.
func crashLoopChild() bool {
	root := crashloop.Child(crashLoopEnv)
	if root == "" {
		return false
	}
	s, err := Open(root)
	if err != nil {
		crashloop.Die("open %v", err)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		crashloop.Say("ADD %d", i)
		c, err := s.AddReader(ctx, bytes.NewReader(corpus.Stream(fmt.Sprintf("loop-%d-%d", os.Getpid(), i), 300_000+i)), 0, AddOptions{})
		if err != nil {
			crashloop.Die("add %v", err)
		}
		if i%2 == 0 {
			crashloop.Say("PIN %d", i)
			if err := s.Pin("crash", "loop", c); err != nil {
				crashloop.Die("pin %v", err)
			}
			crashloop.Say("PINNED %s", c)
		}
		crashloop.Say("GC %d", i)
		if _, err := s.GC(ctx); err != nil {
			crashloop.Die("gc %v", err)
		}
	}
}

// TestCrashLoop kills (SIGKILL) a process that adds, pins and collects garbage in a real store
// at random points, CRASHLOOP_KILLS times (default 5; `make crashloop` runs 50). After each kill
// the store opens, every block verifies and every root whose Pin had returned is still pinned
// with its whole closure present.
func TestCrashLoop(t *testing.T) {
	kills := crashloop.Kills(t, 5)
	root := t.TempDir()
	rng := crashloop.Rand()
	var pinned []cid.Cid
	ctx := context.Background()
	for k := 0; k < kills; k++ {
		child := crashloop.Start(t, crashLoopEnv, root)
		// Kill after a random number of step lines: each line is printed right before the step
		// runs, so the kill lands inside adds, pins and GCs.
		steps := 1 + rng.IntN(12)
		for n := 0; n < steps; n++ {
			if c, ok := strings.CutPrefix(child.Next(), "PINNED "); ok {
				pinned = append(pinned, cid.MustParse(c))
			}
		}
		child.Kill()
		last := child.Last()

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
