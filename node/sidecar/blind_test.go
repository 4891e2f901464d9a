package sidecar

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/internal/saltfile"
	"github.com/buildchain/buildchain/node/chain"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// A round of a claim with more rounds to commit (x/claims/README.md §Blind rounds): the
// sidecar builds, persists result and salt, commits, waits for the claim's reveal phase and
// reveals what it committed.
func TestSidecarBlindRoundCommitsThenReveals(t *testing.T) {
	h := newHarness(t)
	drv := testCID("drv-blind")
	h.claims.revealOnCommit = false
	h.chain.Add(assignEvent(11, 1, "bc1me", drv))
	h.start(1)
	defer h.stop()
	j := h.waitJob(11, 1, JobCommitted)
	require.Len(t, j.Salt, saltfile.SaltLen, "the salt is in the state file")
	want := claimstypes.BuildCommitment("bc1me", 11, 1, j.Output, j.BuildTimeMs, j.Salt)
	h.claims.mu.Lock()
	require.Equal(t, want, h.claims.commits[chain.RoundKey{ClaimID: 11, Round: 1}])
	h.claims.mu.Unlock()

	// Nothing is revealed before the reveal phase; the next heights ask the chain.
	h.chain.Add()
	h.chain.Add()
	require.Eventually(t, func() bool { return h.sc.State().LastHeight() == 3 }, 5*time.Second, 5*time.Millisecond)
	h.claims.mu.Lock()
	require.Empty(t, h.claims.revealed)
	h.claims.mu.Unlock()

	h.claims.openReveals(11)
	j = h.waitJobAddingBlocks(11, 1, JobSent)
	h.claims.mu.Lock()
	r := h.claims.revealed[chain.RoundKey{ClaimID: 11, Round: 1}]
	h.claims.mu.Unlock()
	require.Equal(t, j.Output, r.out.String())
	require.Equal(t, j.BuildTimeMs, r.ms)
	require.Equal(t, 1, h.b.builds)
}

// A crash after the salt was persisted but with the commit on chain (its response lost, or
// the process killed right after sending): the restarted sidecar asks the chain, sends no
// second commit and no new build, and reveals the persisted result and salt.
func TestSidecarBlindRestartRevealsWhatWasCommitted(t *testing.T) {
	h := newHarness(t)
	drv := testCID("drv-blind-crash")
	h.claims.revealOnCommit = false
	h.claims.failAfterLanding = true // the commit lands, its response is lost
	h.chain.Add(assignEvent(12, 1, "bc1me", drv))
	h.start(1)
	j := h.waitJob(12, 1, JobCommitted)
	h.stop()
	h.claims.mu.Lock()
	require.Equal(t, 1, h.claims.commitTxs, "the landed commit was recognised, not resent")
	h.claims.mu.Unlock()

	// State as left by a crash between persisting and knowing the commit landed.
	st, err := OpenState(h.path)
	require.NoError(t, err)
	_, err = st.Update(12, 1, func(x *Job) { x.Status = JobCommitting })
	require.NoError(t, err)
	h.claims.openReveals(12)
	h.chain.Add()
	h.start(1)
	defer h.stop()
	got := h.waitJob(12, 1, JobSent)
	require.Equal(t, j.Salt, got.Salt)
	h.claims.mu.Lock()
	require.Equal(t, 1, h.claims.commitTxs, "no second commit after the restart")
	require.Equal(t, j.Output, h.claims.revealed[chain.RoundKey{ClaimID: 12, Round: 1}].out.String())
	h.claims.mu.Unlock()
	require.Equal(t, 1, h.b.builds, "no rebuild: the persisted result is revealed")
}

// A crash after the result and salt were persisted, before the commit was sent: the
// restarted sidecar commits exactly those (no rebuild, no new salt).
func TestSidecarBlindRestartBeforeCommitSendsPersistedSalt(t *testing.T) {
	h := newHarness(t)
	drv := testCID("drv-blind-persisted")
	salt := []byte("persisted salt 0123456789abcdefg")
	st, err := OpenState(h.path)
	require.NoError(t, err)
	_, err = st.AdvanceHeight(1, []Job{{ClaimID: 13, Round: 2, Derivation: drv.String()}})
	require.NoError(t, err)
	_, err = st.Update(13, 2, func(j *Job) {
		j.Status, j.Output, j.BuildTimeMs, j.Salt = JobCommitting, testCID("o13").String(), 7, salt
	})
	require.NoError(t, err)
	h.claims.revealOnCommit = false
	h.claims.open[chain.RoundKey{ClaimID: 13, Round: 2}] = true
	h.chain.Add()
	h.start(1)
	defer h.stop()
	h.waitJob(13, 2, JobCommitted)
	h.claims.mu.Lock()
	require.Equal(t, claimstypes.BuildCommitment("bc1me", 13, 2, testCID("o13").String(), 7, salt),
		h.claims.commits[chain.RoundKey{ClaimID: 13, Round: 2}])
	h.claims.mu.Unlock()
	require.Equal(t, 0, h.b.builds)
}

// waitJobAddingBlocks is waitJob on a chain that keeps producing blocks (addBlocksUntil).
func (h *harness) waitJobAddingBlocks(claim uint64, round uint32, want JobStatus) Job {
	var j Job
	h.addBlocksUntil(JobKey(claim, round), func() bool {
		var found bool
		j, found = h.sc.State().Job(claim, round)
		return found && j.Status == want
	}, func() string { return fmt.Sprintf("job %d/%d never reached %s (now %+v)", claim, round, want, j) })
	return j
}

// addBlocksUntil adds a block, then another whenever the sidecar has followed the last one and
// runs no task under key, until done holds (10 s), as a live chain keeps producing blocks. One
// block is not enough: a task started at an earlier height (a check of the reveal phase that
// asked before the phase opened, a commit whose status is saved but whose task has not
// returned) may still run when the sidecar follows the next one, and it then skips that key at
// that height (spawn runs one task per key).
func (h *harness) addBlocksUntil(key string, done func() bool, failure func() string) {
	last := h.chain.Add()
	if !assert.Eventually(h.t, func() bool {
		if done() {
			return true
		}
		h.sc.mu.Lock()
		_, busy := h.sc.inflight[key]
		h.sc.mu.Unlock()
		if !busy && h.sc.State().LastHeight() == last {
			last = h.chain.Add()
		}
		return false
	}, 10*time.Second, 5*time.Millisecond) {
		h.t.Fatalf("%s (height %d)", failure(), last)
	}
}
