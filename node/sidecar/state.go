package sidecar

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/buildchain/buildchain/internal/atomicfile"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

// JobStatus is where one (claim, round) assignment stands in this sidecar.
type JobStatus string

const (
	// JobQueued: seen in a block, not yet started (or interrupted by a restart).
	JobQueued JobStatus = "queued"
	// JobBuilding: inputs are being fetched or the build runs.
	JobBuilding JobStatus = "building"
	// JobCommitting: the round's result and salt are persisted; the commit is
	// being sent (persisted first, so a restart commits and reveals the same
	// result and salt, x/claims/README.md §Blind rounds). A job of an older state
	// file left "sending" (an open report, which the chain refuses now) is built
	// and committed again if the chain still wants it.
	JobCommitting JobStatus = "committing"
	// JobCommitted: the commit is on chain; the result is revealed once the
	// claim's reveal phase opens.
	JobCommitted JobStatus = "committed"
	// JobSent: the chain accepted our reveal (terminal).
	JobSent JobStatus = "sent"
	// JobSkipped: the round is no longer ours (timed out and reassigned,
	// claim finished) (terminal).
	JobSkipped JobStatus = "skipped"
	// JobFailed: the build, the commit or the reveal failed for good (terminal).
	JobFailed JobStatus = "failed"
)

// Terminal reports whether nothing more will be done for a job.
func (s JobStatus) Terminal() bool { return s == JobSent || s == JobSkipped || s == JobFailed }

// Job is one assignment as recorded in the state file.
type Job struct {
	ClaimID     uint64    `json:"claim_id"`
	Round       uint32    `json:"round"`
	Derivation  string    `json:"derivation"`
	Deadline    int64     `json:"deadline,omitempty"`
	Height      int64     `json:"height"` // block of the assignment
	Status      JobStatus `json:"status"`
	Output      string    `json:"output,omitempty"`
	BuildTimeMs uint64    `json:"build_time_ms,omitempty"`
	TxHash      string    `json:"tx_hash,omitempty"`
	// Salt of a blind round's commitment (persisted before the commit is sent).
	Salt     []byte    `json:"salt,omitempty"`
	Error    string    `json:"error,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Updated  time.Time `json:"updated"`
}

// Key names a job: one result per (claim, round).
func (j Job) Key() string { return JobKey(j.ClaimID, j.Round) }

// JobKey is "claim/round".
func JobKey(claimID uint64, round uint32) string {
	return strconv.FormatUint(claimID, 10) + "/" + strconv.FormatUint(uint64(round), 10)
}

// PredictionStatus is where this sidecar's part in one market stands.
type PredictionStatus string

const (
	// PredDeciding: our own rebuild of the derivation is being obtained.
	PredDeciding PredictionStatus = "deciding"
	// PredCommitting: outcome and salt are chosen and persisted; the commit
	// is being sent (persisted first, so a restart reveals the same salt).
	PredCommitting PredictionStatus = "committing"
	// PredCommitted: the commit is on chain; reveal after commit_end.
	PredCommitted PredictionStatus = "committed"
	// PredRevealed: the reveal is on chain (terminal).
	PredRevealed PredictionStatus = "revealed"
	// PredFailed: gave up (window closed, build failed) (terminal).
	PredFailed PredictionStatus = "failed"
)

// Terminal reports whether nothing more will be done for a prediction.
func (s PredictionStatus) Terminal() bool { return s == PredRevealed || s == PredFailed }

// Prediction is our part in one market, as recorded in the state file.
type Prediction struct {
	MarketID  uint64              `json:"market_id"`
	ClaimID   uint64              `json:"claim_id"`
	Claimed   string              `json:"claimed"`
	Reported  string              `json:"reported"`
	CommitEnd int64               `json:"commit_end"`
	RevealEnd int64               `json:"reveal_end"`
	Output    string              `json:"output,omitempty"` // our own rebuild
	Outcome   markettypes.Outcome `json:"outcome,omitempty"`
	Salt      []byte              `json:"salt,omitempty"`
	Status    PredictionStatus    `json:"status"`
	Error     string              `json:"error,omitempty"`
	Updated   time.Time           `json:"updated"`
}

type stateFile struct {
	Version     int                    `json:"version"`
	LastHeight  int64                  `json:"last_height"`
	Jobs        map[string]*Job        `json:"jobs"`
	Predictions map[string]*Prediction `json:"predictions,omitempty"`
}

// State is the sidecar's durable memory, one JSON file in the node home. Each
// change is written to a temporary file, fsynced and renamed over the old
// one, so a crash leaves either the old or the new state, never a torn one.
// Safe for concurrent use.
type State struct {
	path string
	mu   sync.Mutex
	f    stateFile
}

// OpenState loads the state file at path, or starts an empty state (height 0)
// if there is none. Temporary files of writes a crash interrupted are removed
// (atomicfile.RemoveStale).
func OpenState(path string) (*State, error) {
	s := &State{path: path, f: stateFile{Version: 1, Jobs: map[string]*Job{}, Predictions: map[string]*Prediction{}}}
	if _, err := atomicfile.RemoveStale(path); err != nil {
		return nil, fmt.Errorf("sidecar state: %w", err)
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("sidecar state dir: %w", err)
		}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read sidecar state %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &s.f); err != nil {
		return nil, fmt.Errorf("sidecar state %s is corrupt (%w); move it away to start over from height 0", path, err)
	}
	if s.f.Jobs == nil {
		s.f.Jobs = map[string]*Job{}
	}
	if s.f.Predictions == nil {
		s.f.Predictions = map[string]*Prediction{}
	}
	return s, nil
}

// LastHeight is the last height whose events were completely handled.
func (s *State) LastHeight() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.LastHeight
}

// Job returns a copy of the job for (claim, round).
func (s *State) Job(claimID uint64, round uint32) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.f.Jobs[JobKey(claimID, round)]
	if !ok {
		return Job{}, false
	}
	return *j, true
}

// Jobs returns copies of all jobs, sorted by (claim, round).
func (s *State) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedCopies(s.f.Jobs, func(a, b Job) int {
		return cmp.Or(cmp.Compare(a.ClaimID, b.ClaimID), cmp.Compare(a.Round, b.Round))
	})
}

// AdvanceHeight records new jobs (found at height h) and h as handled in one
// atomic write: a crash either loses both (and h is read again) or keeps
// both. Jobs already known are left as they are (a re-read height must not
// reset a job in progress).
func (s *State) AdvanceHeight(h int64, newJobs []Job) (added []Job, err error) {
	added, _, err = s.Advance(h, newJobs, nil)
	return added, err
}

// Advance is AdvanceHeight that also records new markets to predict in.
func (s *State) Advance(h int64, newJobs []Job, newPreds []Prediction) (added []Job, addedPreds []Prediction, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h <= s.f.LastHeight {
		return nil, nil, fmt.Errorf("sidecar state: height %d already handled (last %d)", h, s.f.LastHeight)
	}
	old := s.f.LastHeight
	now := time.Now().UTC()
	keys, added := addNew(s.f.Jobs, newJobs, Job.Key, func(j *Job) {
		if j.Status == "" {
			j.Status = JobQueued
		}
		j.Updated = now
	})
	pkeys, addedPreds := addNew(s.f.Predictions, newPreds, func(p Prediction) string { return strconv.FormatUint(p.MarketID, 10) },
		func(p *Prediction) {
			if p.Status == "" {
				p.Status = PredDeciding
			}
			p.Updated = now
		})
	s.f.LastHeight = h
	if err := s.saveLocked(); err != nil {
		s.f.LastHeight = old
		for _, k := range keys {
			delete(s.f.Jobs, k)
		}
		for _, k := range pkeys {
			delete(s.f.Predictions, k)
		}
		return nil, nil, err
	}
	return added, addedPreds, nil
}

// sortedCopies returns copies of m's values in the order of compare.
func sortedCopies[T any](m map[string]*T, compare func(a, b T) int) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	slices.SortFunc(out, compare)
	return out
}

// addNew puts into m each item whose key is not there yet, after init, and returns the keys
// and the items it added (items already known are left as they are: a re-read height must
// not reset a job or prediction in progress).
func addNew[T any](m map[string]*T, items []T, key func(T) string, init func(*T)) (keys []string, added []T) {
	for _, it := range items {
		k := key(it)
		if _, ok := m[k]; ok {
			continue
		}
		it := it
		init(&it)
		m[k] = &it
		keys = append(keys, k)
		added = append(added, it)
	}
	return keys, added
}

// Predictions returns copies of all predictions, by market id.
func (s *State) Predictions() []Prediction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedCopies(s.f.Predictions, func(a, b Prediction) int { return cmp.Compare(a.MarketID, b.MarketID) })
}

// Prediction returns a copy of our prediction in a market.
func (s *State) Prediction(marketID uint64) (Prediction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.f.Predictions[strconv.FormatUint(marketID, 10)]
	if !ok {
		return Prediction{}, false
	}
	return *p, true
}

// UpdatePrediction changes a prediction with fn and persists it.
func (s *State) UpdatePrediction(marketID uint64, fn func(*Prediction)) (Prediction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.f.Predictions[strconv.FormatUint(marketID, 10)]
	if !ok {
		return Prediction{}, fmt.Errorf("sidecar state: no prediction for market %d", marketID)
	}
	return updateLocked(s, p, func(p *Prediction) {
		fn(p)
		p.Updated = time.Now().UTC()
	})
}

// Update changes a job with fn and persists the result before returning.
func (s *State) Update(claimID uint64, round uint32, fn func(*Job)) (Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.f.Jobs[JobKey(claimID, round)]
	if !ok {
		return Job{}, fmt.Errorf("sidecar state: no job %s", JobKey(claimID, round))
	}
	return updateLocked(s, j, func(j *Job) {
		fn(j)
		j.Updated = time.Now().UTC()
	})
}

// updateLocked changes *item with fn and persists the state; if the write fails, *item is
// as it was and the error is returned.
func updateLocked[T any](s *State, item *T, fn func(*T)) (T, error) {
	prev := *item
	fn(item)
	if err := s.saveLocked(); err != nil {
		*item = prev
		var zero T
		return zero, err
	}
	return *item, nil
}

func (s *State) saveLocked() error {
	data, err := json.MarshalIndent(&s.f, "", " ")
	if err != nil {
		return fmt.Errorf("encode sidecar state: %w", err)
	}
	return atomicfile.WriteFile(s.path, data, 0o600)
}
