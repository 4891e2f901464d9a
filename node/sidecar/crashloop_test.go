package sidecar

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildchain/buildchain/testutil/crashloop"
)

// stateCrashEnv makes the re-executed test binary the state-writing child (stateCrashChild).
const stateCrashEnv = "SIDECAR_STATE_CRASHLOOP_CHILD"

func TestMain(m *testing.M) {
	if stateCrashChild() {
		return
	}
	os.Exit(m.Run())
}

// stateCrashChild writes the sidecar state as fast as it can: per height a new job and a new
// market (Advance), then the job moved to committing and sent and the prediction to committing
// (Update, UpdatePrediction). After each write returned it prints "SAVED <what>", so the parent
// knows what must survive any later kill.
func stateCrashChild() bool {
	path := crashloop.Child(stateCrashEnv)
	if path == "" {
		return false
	}
	s, err := OpenState(path)
	if err != nil {
		crashloop.Die("open %v", err)
	}
	say := crashloop.Say
	die := func(err error) { crashloop.Die("%v", err) }
	for h := s.LastHeight() + 1; ; h++ {
		id := uint64(h)
		_, _, err := s.Advance(h, []Job{{ClaimID: id, Round: 1, Derivation: "drv", Height: h}},
			[]Prediction{{MarketID: id, ClaimID: id, CommitEnd: h + 10, RevealEnd: h + 20}})
		if err != nil {
			die(err)
		}
		say("SAVED height %d", h)
		if _, err := s.Update(id, 1, func(j *Job) { j.Status = JobCommitting; j.Output = "out"; j.Salt = []byte("salt") }); err != nil {
			die(err)
		}
		say("SAVED job %d committing", h)
		if _, err := s.Update(id, 1, func(j *Job) { j.Status = JobSent; j.TxHash = "tx" }); err != nil {
			die(err)
		}
		say("SAVED job %d sent", h)
		if _, err := s.UpdatePrediction(id, func(p *Prediction) { p.Status = PredCommitting; p.Salt = []byte("salt") }); err != nil {
			die(err)
		}
		say("SAVED prediction %d committing", h)
	}
}

// TestStateCrashLoop kills (SIGKILL) a process writing the sidecar state file at random points,
// CRASHLOOP_KILLS times (default 5; `make crashloop` runs 50). After each kill the state opens,
// and every write that had returned is in it: the height, each job's and prediction's last
// saved status (issue 13: a sidecar state write interrupted by a crash loses nothing).
func TestStateCrashLoop(t *testing.T) {
	kills := crashloop.Kills(t, 5)
	path := filepath.Join(t.TempDir(), "sidecar", "state.json")
	rng := crashloop.Rand()
	// What the child said it saved: the last height, and per claim the job's and the
	// prediction's last status.
	var height int64
	stale := 0
	jobs := map[uint64]JobStatus{}
	preds := map[uint64]PredictionStatus{}
	for k := 0; k < kills; k++ {
		child := crashloop.Start(t, stateCrashEnv, path)
		// Kill after a random number of saves: the next write is under way when the kill lands
		// (the child writes without pause). The lines the child printed before it died are read
		// too, so the state may be one write ahead of the last line, never more.
		steps := 1 + rng.IntN(40)
		var said []string
		for n := 0; n < steps; n++ {
			said = append(said, child.Next())
		}
		said = append(said, child.Kill()...)
		var last string
		for _, last = range said {
			var h int64
			var what string
			switch {
			case strings.HasPrefix(last, "ERR"):
				t.Fatalf("kill %d: child: %s", k, last)
			case scan(last, "SAVED height %d", &h):
				height = h
				jobs[uint64(h)], preds[uint64(h)] = JobQueued, PredDeciding
			case scan(last, "SAVED job %d %s", &h, &what):
				jobs[uint64(h)] = JobStatus(what)
			case scan(last, "SAVED prediction %d %s", &h, &what):
				preds[uint64(h)] = PredictionStatus(what)
			default:
				t.Fatalf("kill %d: child said %q", k, last)
			}
		}

		left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".state.json.tmp-*"))
		stale += len(left)
		s, err := OpenState(path)
		if err != nil {
			t.Fatalf("kill %d (after %q): %v", k, last, err)
		}
		// The temporary file of the write the kill interrupted is gone (atomicfile.RemoveStale).
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".state.json.tmp-*")); len(left) > 0 {
			t.Fatalf("kill %d (after %q): temporary files left after open: %v", k, last, left)
		}
		// A kill may land after a write returned but before its SAVED line: the state may be
		// one write ahead of what the child said, never behind.
		if got := s.LastHeight(); got != height && got != height+1 {
			t.Fatalf("kill %d (after %q): last height %d, saved %d", k, last, got, height)
		}
		for id, want := range jobs {
			j, ok := s.Job(id, 1)
			if !ok || (j.Status != want && !(j.Status == next(want) && id == uint64(height))) {
				t.Fatalf("kill %d (after %q): job %d is %q, saved %q", k, last, id, j.Status, want)
			}
		}
		for id, want := range preds {
			p, ok := s.Prediction(id)
			if !ok || (p.Status != want && !(p.Status == PredCommitting && id == uint64(height))) {
				t.Fatalf("kill %d (after %q): prediction %d is %q, saved %q", k, last, id, p.Status, want)
			}
		}
		// The state as the next run sees it: what it read, not the child's view.
		height = s.LastHeight()
		for _, j := range s.Jobs() {
			jobs[j.ClaimID] = j.Status
		}
		for _, p := range s.Predictions() {
			preds[p.MarketID] = p.Status
		}
	}
	t.Logf("%d kills, state at height %d intact, %d temporary files of interrupted writes removed on open", kills, height, stale)
}

// next is the status a job of the crash-loop child moves to after want.
func next(want JobStatus) JobStatus {
	switch want {
	case JobQueued:
		return JobCommitting
	case JobCommitting:
		return JobSent
	}
	return want
}

// scan reports whether line matches format completely.
func scan(line, format string, args ...any) bool {
	n, err := fmt.Sscanf(line, format, args...)
	return err == nil && n == len(args)
}
