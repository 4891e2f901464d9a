package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/chain/chaintest"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
	"github.com/buildchain/buildchain/node/sidecar"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/testutil/gcloop"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

func needSandbox(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds run in user/mount/pid namespaces")
	}
	if _, err := os.Stat(builder.DefaultBusybox); err != nil {
		t.Skip("needs Debian busybox-static at /bin/busybox")
	}
}

// publisherAndBuilder opens two peers, the builder bootstrapped to the publisher, and
// imports busybox on the publisher; it skips without the sandbox.
func publisherAndBuilder(t *testing.T) (pub, bld *Runtime, busybox cid.Cid) {
	t.Helper()
	needSandbox(t)
	pub = openPeer(t, "publisher")
	bld = openPeer(t, "builder", pub)
	bb, err := pub.Builder().ImportBusybox(context.Background(), "", "test")
	require.NoError(t, err)
	return pub, bld, bb
}

// openPeer opens a runtime with a loopback p2p host (bootstrapped to boot).
func openPeer(t *testing.T, name string, boot ...*Runtime) *Runtime {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	var addrs []string
	for _, b := range boot {
		n, err := b.P2P()
		require.NoError(t, err)
		for _, a := range n.Addrs() {
			addrs = append(addrs, a.String())
		}
	}
	no := false
	rt, err := Open(Config{StoreRoot: filepath.Join(dir, "ipfs"),
		Builder: builder.Config{Timeout: time.Minute, UseFUSE: &no},
		P2P:     &p2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: addrs, ReprovideInterval: -1},
	})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	require.NoError(t, rt.Start(context.Background()))
	return rt
}

// assignAll adds one height per derivation to src, assigning it (claim i+1,
// round 1) to validator as a typed x/claims event.
func assignAll(t *testing.T, src *chaintest.Blocks, validator string, drvs []cid.Cid) {
	t.Helper()
	for i, d := range drvs {
		ev, err := sdk.TypedEventToEvent(&claimstypes.EventClaimAssigned{ClaimId: uint64(i + 1), Round: 1,
			Validator: validator, DerivationCid: d.String(), System: builder.HostSystem(), DeadlineHeight: 1000})
		require.NoError(t, err)
		src.Add(abci.Event(ev))
	}
}

// memClaims is x/claims in memory: assignments decoded from the chain's typed events
// (node/chain), one-round blind claims whose reveals open with their commit (x/claims/README.md
// §Blind rounds); a reveal must open its commitment.
type memClaims struct {
	mu      sync.Mutex
	me      string
	commits map[uint64][]byte
	reports map[uint64]cid.Cid
}

func (m *memClaims) Validator() string { return m.me }

func (m *memClaims) Decode(events []abci.Event) ([]chain.Assignment, []chain.RoundKey, error) {
	return chain.DecodeEvents(events)
}

func (m *memClaims) RoundState(_ context.Context, claimID uint64, _ uint32) (chain.RoundState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.reports[claimID]; ok {
		return chain.RoundReported, nil
	}
	if _, ok := m.commits[claimID]; ok {
		return chain.RoundRevealable, nil
	}
	return chain.RoundOpen, nil
}

func (m *memClaims) Commit(_ context.Context, claimID uint64, _ uint32, commitment []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.commits[claimID]; ok {
		return "", errors.New("already committed")
	}
	m.commits[claimID] = commitment
	return fmt.Sprintf("COMMIT%d", claimID), nil
}

func (m *memClaims) RevealBuild(_ context.Context, claimID uint64, round uint32, out cid.Cid, ms uint64, salt []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !bytes.Equal(m.commits[claimID], claimstypes.BuildCommitment(m.me, claimID, round, out.String(), ms, salt)) {
		return "", errors.New("reveal does not match the commitment")
	}
	if _, ok := m.reports[claimID]; ok {
		return "", errors.New("already revealed")
	}
	m.reports[claimID] = out
	return fmt.Sprintf("REVEAL%d", claimID), nil
}

func (m *memClaims) reported() map[uint64]cid.Cid {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[uint64]cid.Cid{}
	for k, v := range m.reports {
		out[k] = v
	}
	return out
}

// TestGCDuringSidecarBuilds runs a garbage collection of the builder's
// store in a loop while its sidecar fetches derivations and their inputs
// from a publisher over p2p (real libp2p on loopback), rebuilds them in the
// sandbox, commits and reveals: every revealed result is the publisher's output, and every
// output is complete, pinned, served to a third peer and reprovided, while
// the GC did sweep the garbage added meanwhile.
func TestGCDuringSidecarBuilds(t *testing.T) {
	ctx := context.Background()
	pub, bld, bb := publisherAndBuilder(t)

	// Jobs: each derivation reads its own data input, fetched from the
	// publisher while the GC loops.
	const jobs = 6
	drvs := make([]cid.Cid, jobs)
	want := make([]cid.Cid, jobs)
	for i := range drvs {
		src := filepath.Join(t.TempDir(), "data")
		require.NoError(t, os.MkdirAll(src, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(src, "greeting"), []byte(strings.Repeat(fmt.Sprintf("hello %d\n", i), 40000)), 0o644))
		data, err := pub.Store().AddPath(ctx, src, storefs.AddOptions{})
		require.NoError(t, err)
		require.NoError(t, pub.Store().Pin("test", "publish", data))
		d := &derivation.Derivation{Name: fmt.Sprintf("gc-%d", i), System: builder.HostSystem(),
			Builder: "/ipfs/store/" + bb.String() + "/bin/sh",
			Args: []string{"-c", "PATH=/ipfs/store/" + bb.String() + "/bin\nmkdir -p $out\nsha256sum /ipfs/store/" + data.String() +
				"/greeting > $out/sum\ncp /ipfs/store/" + data.String() + "/greeting $out/greeting"},
			Env: map[string]string{}, Inputs: []derivation.Input{{CID: bb}, {CID: data}}, Outputs: []string{"out"}}
		drvs[i], err = pub.Builder().AddDerivation(d)
		require.NoError(t, err)
		require.NoError(t, pub.Store().Pin("test", "publish", drvs[i]))
		res, err := pub.Builder().Build(ctx, drvs[i], builder.Options{})
		require.NoError(t, err)
		want[i] = res.Output
	}

	src := chaintest.NewBlocks()
	claims := &memClaims{me: "bc1builder", commits: map[uint64][]byte{}, reports: map[uint64]cid.Cid{}}
	sc, err := bld.NewSidecar(SidecarConfig{Config: sidecar.Config{StatePath: filepath.Join(t.TempDir(), "state.json"),
		Workers: 3, Poll: 20 * time.Millisecond, FetchTimeout: time.Minute}, Source: src, Claims: claims})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sc.Run(runCtx) }()

	gc := gcloop.Start(t, bld.Store())
	assignAll(t, src, claims.me, drvs)
	// Wait until every job ended (reported, or failed for good).
	require.Eventually(t, func() bool {
		js := sc.State().Jobs()
		for _, j := range js {
			if !j.Status.Terminal() {
				return false
			}
		}
		return len(js) == jobs
	}, 5*time.Minute, 50*time.Millisecond, "every assignment handled")
	gcs, swept, err := gc.Stop()
	require.NoError(t, err)
	stop()
	require.NoError(t, <-done)
	t.Logf("%d collections during the builds swept %d blocks", gcs, swept)
	require.Positive(t, gcs)
	require.Positive(t, swept, "the GC loop did sweep")

	for _, j := range sc.State().Jobs() {
		require.Equal(t, sidecar.JobSent, j.Status, "job %s: %s", j.Key(), j.Error)
	}
	got := claims.reported()
	for i := range drvs {
		require.Equal(t, want[i], got[uint64(i+1)], "job %d reported the publisher's output", i)
	}

	// After one more collection the outputs are whole (every block of
	// their closure present and hash-checked), pinned, and listed as roots
	// to reprovide; nothing is left temp-pinned by the jobs.
	_, err = bld.Store().GC(ctx)
	require.NoError(t, err)
	roots, err := PinnedRoots(bld.Store())
	require.NoError(t, err)
	for i, out := range want {
		cl, err := bld.Store().Closure(out)
		require.NoError(t, err, "output %d closure", i)
		for _, c := range cl {
			_, err := bld.Store().GetBlock(c)
			require.NoError(t, err, "output %d block %s", i, c)
		}
		require.Contains(t, roots, out)
	}
	pins, err := bld.Store().ListPins()
	require.NoError(t, err)
	for _, p := range pins {
		require.NotEqual(t, "temp", p.Kind, "a job left a temp pin: %+v", p)
	}

	// A third peer, knowing only the builder, gets an output from it.
	user := openPeer(t, "user", bld)
	_, release, err := user.Fetch(ctx, want[0], nil)
	require.NoError(t, err)
	release()
	var sum strings.Builder
	require.NoError(t, user.Store().Cat(ctx, want[0], "sum", &sum))
	require.Contains(t, sum.String(), "/greeting")
}
