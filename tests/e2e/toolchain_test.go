package e2e

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	"github.com/buildchain/buildchain/node/toolchain/debian"
	"github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	markettypes "github.com/buildchain/buildchain/x/market/types"
)

// needDebs skips when the gcc toolchain's .debs are not in the cache `make deps` fills.
func needDebs(t *testing.T) {
	t.Helper()
	lock, err := debian.DebianLock()
	require.NoError(t, err)
	for _, name := range append([]string{debian.BusyboxPackage, debian.PatchelfPackage}, gcctoolchain.GCC.Packages...) {
		if _, err := os.Stat(filepath.Join(debian.DefaultDebCache(), lock[name].Filename())); err != nil {
			t.Skipf("%s not in %s: run `make deps`", lock[name].Filename(), debian.DefaultDebCache())
		}
	}
}

// TestCProgramsOnLocalnet: real C programs built with the gcc toolchain and verified by the
// chain (4 authorities, 3 build validators with sidecars, FUSE stores, bitswap on loopback):
//   - the publisher imports the gcc toolchain; the builders fetch it from the publisher by
//     CID (140 MB over closure streams, bitswap completing what they do not bring), as any
//     input, and no honest peer is dropped as a liar (the toolchain's runtime reference to
//     the bootstrap busybox once made the closure stream refuse the publisher);
//   - examples/lua (Lua 5.4.7, -O2, static) is published and goes VALID: every builder's
//     rebuild, in its own store, gives the publisher's output byte for byte;
//   - examples/c-random (a C program that embeds random bytes of its build) is published:
//     the rebuild differs, the sidecars' rebuilds differ from both, the market decides
//     NON_DETERMINISM, and the publisher is not slashed.
func TestCProgramsOnLocalnet(t *testing.T) {
	needRootFUSE(t)
	needDebs(t)
	// Blocks come about every second: the default 50-block report deadline, and the default
	// commit phase of a market (in which the sidecars rebuild before they predict), are
	// shorter than a C build on a busy 2-core machine (the waits below are as generous).
	net := localnet.Start(t, localnet.Options{Nodes: 4,
		GenesisJQ: `.app_state.claims.params.report_timeout_blocks = "4000" | .app_state.market.params.commit_blocks = "150"`})
	env := sidecartest.NewEnv(t, net)
	// Limits that fit a -O2 Lua build and the reference scan of fetched toolchains under a load
	// of 50-80 on two cores (the defaults, 10 and 2 minutes, leave little room there); both stay
	// well inside the report deadline.
	env.FetchTimeout, env.BuildTimeout = 15*time.Minute, 30*time.Minute
	ctx := context.Background()

	pub := env.NewPeer("publisher", "val0", 0)
	var builders []*sidecartest.Peer
	for i, name := range []string{"alice", "bob", "carol"} {
		p := env.NewPeer(name, name, i+1, pub)
		env.Register(p)
		builders = append(builders, p)
	}

	start := time.Now()
	gcc, err := toolchain.Import(ctx, "gcc", "test", &toolchain.Env{Store: pub.Store, Builder: pub.Builder,
		Options: map[string]string{}, Log: io.Discard})
	require.NoError(t, err)
	t.Logf("publisher imported gcc %s in %s", gcc, time.Since(start).Round(time.Millisecond))
	// The builders get the toolchain the way they get any input: by CID from a peer (here ahead
	// of the claims, so the sidecars' fetch deadline does not have to cover 140 MB).
	start = time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(builders))
	stats := make([]p2p.FetchStats, len(builders))
	for i, b := range builders {
		wg.Add(1)
		go func(i int, b *sidecartest.Peer) {
			defer wg.Done()
			fctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			stats[i], errs[i] = b.P2P.FetchClosure(fctx, gcc, nil)
		}(i, b)
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "%s fetching the toolchain", builders[i].Name)
		require.Empty(t, stats[i].Dropped, "%s dropped an honest peer", builders[i].Name)
		t.Logf("%s: %d blocks, %d from peers, %d of them over closure streams", builders[i].Name, stats[i].Blocks, stats[i].Fetched, stats[i].Streamed)
	}
	t.Logf("3 builders fetched the toolchain in %s", time.Since(start).Round(time.Millisecond))
	for _, b := range builders {
		env.StartSidecar(b)
	}
	byAddr := map[string]*sidecartest.Peer{}
	for _, b := range builders {
		byAddr[b.Claims.Validator()] = b
	}

	// Lua: VALID, each rebuild the publisher's output.
	src, err := pub.Store.AddPath(ctx, filepath.Join(localnet.RepoRoot(), "examples", "lua", "src"), storefs.AddOptions{})
	require.NoError(t, err)
	require.NoError(t, pub.Store.Pin("test", "sources", src))
	lua := exampleDrv(t, pub, "lua/lua.json", map[string]string{"luasrc": src.String()})
	id, resolved, out, _, _ := pub.Publish(t, lua, cid.Undef)
	t.Logf("claim %d: lua %s -> %s", id, resolved, out)
	c := sidecartest.WaitClaim(t, pub.Claims, id, 45*time.Minute, "VALID", func(c claimstypes.Claim) bool {
		return c.Status == claimstypes.CLAIM_STATUS_VALID
	})
	t.Logf("lua VALID after %d rounds: %s", c.Round, sidecartest.FmtAssignments(c))
	for _, a := range c.Assignments {
		require.Equal(t, out.String(), a.OutputCid, "every rebuild gave the publisher's Lua")
		require.NotNil(t, byAddr[a.Validator])
	}
	var said strings.Builder
	require.NoError(t, pub.Store.Cat(ctx, out, "bin/lua", &said))
	require.Greater(t, said.Len(), 100000, "a static lua binary")

	// A real program that embeds random bytes of its build: NON_DETERMINISM, nobody slashed.
	nd := exampleDrv(t, pub, "c-random/c-random.json", nil)
	id2, _, claimed, _, _ := pub.Publish(t, nd, cid.Undef)
	sidecartest.WaitClaim(t, pub.Claims, id2, 30*time.Minute, "DISPUTED", func(c claimstypes.Claim) bool {
		return c.Status != claimstypes.CLAIM_STATUS_ASSIGNED
	})
	mq := markettypes.NewQueryClient(pub.Claims.C.Context())
	var m markettypes.Market
	require.Eventually(t, func() bool {
		res, err := mq.MarketsByClaim(ctx, &markettypes.QueryMarketsByClaimRequest{ClaimId: id2})
		if err != nil || len(res.Markets) == 0 {
			return false
		}
		m = res.Markets[0]
		return m.Status == markettypes.MARKET_STATUS_RESOLVED
	}, 30*time.Minute, time.Second, "the market on claim %d resolves", id2)
	c2, err := pub.Claims.Claim(ctx, id2)
	require.NoError(t, err)
	t.Logf("c-random claim %d (%s): market %d %s; claim %s: %s", id2, claimed, m.Id, m.Outcome, c2.Status, sidecartest.FmtAssignments(c2))
	require.Equal(t, markettypes.OUTCOME_NON_DETERMINISM, m.Outcome)
	require.NotEqual(t, claimstypes.CLAIM_STATUS_REJECTED, c2.Status, "the publisher was not judged a liar")
	if m.Decided {
		require.True(t, c2.DepositLocked || c2.Status == claimstypes.CLAIM_STATUS_VALID, "the deposit was not seized")
	} else { // no quorum or a tie: INCONCLUSIVE, the claim is not verified (x/claims/README.md §Disputes)
		require.Equal(t, claimstypes.CLAIM_STATUS_EXPIRED, c2.Status)
		require.False(t, c2.DepositLocked, "the deposit was returned")
	}
}

// exampleDrv adds an example derivation template with the peer's template variables (@gcc@,
// @bootstrap@, ...) and vars.
func exampleDrv(t *testing.T, p *sidecartest.Peer, example string, vars map[string]string) cid.Cid {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(localnet.RepoRoot(), "examples", example))
	require.NoError(t, err)
	all, err := p.Builder.TemplateVars()
	require.NoError(t, err)
	for k, v := range vars {
		all[k] = v
	}
	filled, err := builder.Template(data, all)
	require.NoError(t, err)
	d, err := derivation.Parse(filled)
	require.NoError(t, err)
	return p.AddDerivation(t, d)
}
