package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain/chaintest"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/sidecar"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

func TestKeep(t *testing.T) {
	ours, _ := cid.Decode("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	other, _ := cid.Decode("bafkreiaxnnnb7qz2focittuqq3ya25q7rcv3bqynnczfzako47346wosmu")
	claim := func(s claimstypes.ClaimStatus, out cid.Cid) claimstypes.Claim {
		return claimstypes.Claim{Status: s, OutputCid: out.String()}
	}
	for _, tc := range []struct {
		name          string
		claims        []claimstypes.Claim
		keep, decided bool
	}{
		{"assigned", []claimstypes.Claim{claim(claimstypes.CLAIM_STATUS_ASSIGNED, ours)}, true, false},
		{"pending", []claimstypes.Claim{claim(claimstypes.CLAIM_STATUS_PENDING, other)}, true, false},
		{"disputed", []claimstypes.Claim{claim(claimstypes.CLAIM_STATUS_DISPUTED, other)}, true, false},
		{"revealing, blind (no output yet)", []claimstypes.Claim{{Status: claimstypes.CLAIM_STATUS_REVEALING, OutputCommitment: []byte{1}}}, true, false},
		{"valid, ours", []claimstypes.Claim{claim(claimstypes.CLAIM_STATUS_VALID, ours)}, true, true},
		{"valid, another output", []claimstypes.Claim{claim(claimstypes.CLAIM_STATUS_VALID, other)}, false, true},
		{"rejected", []claimstypes.Claim{claim(claimstypes.CLAIM_STATUS_REJECTED, ours)}, false, true},
		{"expired", []claimstypes.Claim{claim(claimstypes.CLAIM_STATUS_EXPIRED, ours)}, false, true},
		{"no claim", nil, false, true},
		{"one open among decided", []claimstypes.Claim{claim(claimstypes.CLAIM_STATUS_REJECTED, ours), claim(claimstypes.CLAIM_STATUS_ASSIGNED, ours)}, true, false},
		{"verified by a later claim", []claimstypes.Claim{claim(claimstypes.CLAIM_STATUS_REJECTED, other), claim(claimstypes.CLAIM_STATUS_VALID, ours)}, true, true},
	} {
		keep, decided := Keep(ours, tc.claims)
		require.Equal(t, tc.keep, keep, tc.name)
		require.Equal(t, tc.decided, decided, tc.name)
	}
}

// memDerivationClaims is x/claims's claims-by-derivation in memory.
type memDerivationClaims struct {
	mu     sync.Mutex
	claims map[cid.Cid][]claimstypes.Claim
}

func (m *memDerivationClaims) ClaimsByDerivation(_ context.Context, drv cid.Cid) ([]claimstypes.Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]claimstypes.Claim(nil), m.claims[drv]...), nil
}

func (m *memDerivationClaims) set(drv cid.Cid, status claimstypes.ClaimStatus, out cid.Cid) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims[drv] = []claimstypes.Claim{{Status: status, DerivationCid: drv.String(), OutputCid: out.String()}}
}

// TestRetentionOfReportedOutputs runs a sidecar that rebuilds and reports
// three derivations in the sandbox, then decides their claims: the output
// the chain verified stays pinned and survives a GC, the output of a claim
// verified with another output is unpinned and swept, and a disputed
// claim's output stays until its market is decided (then it goes too).
func TestRetentionOfReportedOutputs(t *testing.T) {
	needSandbox(t)
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	no := false
	rt, err := Open(Config{StoreRoot: filepath.Join(dir, "ipfs"), Builder: builder.Config{Timeout: time.Minute, UseFUSE: &no}})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	bb, err := rt.Builder().ImportBusybox(ctx, "", "test")
	require.NoError(t, err)
	const n = 3
	drvs := make([]cid.Cid, n)
	for i := range drvs {
		d := &derivation.Derivation{Name: fmt.Sprintf("retain-%d", i), System: builder.HostSystem(),
			Builder: "/ipfs/store/" + bb.String() + "/bin/sh",
			Args:    []string{"-c", fmt.Sprintf("/ipfs/store/%s/bin/mkdir -p $out && echo 'output %d' > $out/file", bb, i)},
			Env:     map[string]string{}, Inputs: []derivation.Input{{CID: bb}}, Outputs: []string{"out"}}
		drvs[i], err = rt.Builder().AddDerivation(d)
		require.NoError(t, err)
		require.NoError(t, rt.Store().Pin("test", "publish", drvs[i]))
	}

	src := chaintest.NewBlocks()
	claims := &memClaims{me: "bc1builder", commits: map[uint64][]byte{}, reports: map[uint64]cid.Cid{}}
	view := &memDerivationClaims{claims: map[cid.Cid][]claimstypes.Claim{}}
	for _, d := range drvs {
		view.set(d, claimstypes.CLAIM_STATUS_ASSIGNED, cid.Undef)
	}
	statePath := filepath.Join(dir, "sidecar", "state.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(statePath), 0o755))
	sc, err := rt.NewSidecar(SidecarConfig{Config: sidecar.Config{StatePath: statePath, Workers: 2, Poll: 20 * time.Millisecond},
		Source: src, Claims: claims, Retention: view, RetainEvery: 10 * time.Millisecond})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sc.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
	assignAll(t, src, claims.me, drvs)
	require.Eventually(t, func() bool { return len(claims.reported()) == n }, 5*time.Minute, 20*time.Millisecond, "every job reported")
	outs := make([]cid.Cid, n)
	for i := range drvs {
		outs[i] = claims.reported()[uint64(i+1)]
		require.True(t, outs[i].Defined())
	}

	sidecarPinned := func(c cid.Cid) bool {
		pins, err := rt.Store().ListPins()
		require.NoError(t, err)
		for _, p := range pins {
			if p.Kind == "user" && p.Prog == SidecarPins && p.CID == c {
				return true
			}
		}
		return false
	}
	has := func(c cid.Cid) bool {
		ok, err := rt.Store().HasBlock(c)
		require.NoError(t, err)
		return ok
	}
	// Open claims: every output stays pinned through retention passes and a GC.
	retention := filepath.Join(filepath.Dir(statePath), "retained.json")
	require.FileExists(t, retention)
	_, err = rt.Store().GC(ctx)
	require.NoError(t, err)
	for i, out := range outs {
		require.True(t, sidecarPinned(out), "output %d pinned while its claim is open", i)
		require.True(t, has(out), "output %d kept while its claim is open", i)
	}

	// Decided: 0 verified with our output, 1 verified with another output,
	// 2 disputed.
	view.set(drvs[0], claimstypes.CLAIM_STATUS_VALID, outs[0])
	view.set(drvs[1], claimstypes.CLAIM_STATUS_VALID, bb)
	view.set(drvs[2], claimstypes.CLAIM_STATUS_DISPUTED, outs[2])
	require.Eventually(t, func() bool { return !sidecarPinned(outs[1]) }, time.Minute, 10*time.Millisecond, "output 1 unpinned")
	_, err = rt.Store().GC(ctx)
	require.NoError(t, err)
	require.False(t, has(outs[1]), "the unverified output is swept")
	require.True(t, sidecarPinned(outs[0]) && has(outs[0]), "the verified output stays")
	require.True(t, sidecarPinned(outs[2]) && has(outs[2]), "the disputed output stays while the market runs")

	// The market rejects claim 3: its output goes too; the verified one
	// stays, and is no longer asked about.
	view.set(drvs[2], claimstypes.CLAIM_STATUS_REJECTED, outs[2])
	require.Eventually(t, func() bool { return !sidecarPinned(outs[2]) }, time.Minute, 10*time.Millisecond, "output 2 unpinned")
	_, err = rt.Store().GC(ctx)
	require.NoError(t, err)
	require.False(t, has(outs[2]))
	require.True(t, sidecarPinned(outs[0]) && has(outs[0]))
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(retention)
		require.NoError(t, err)
		return string(data) == "[]"
	}, time.Minute, 10*time.Millisecond, "decided outputs are forgotten")
}
