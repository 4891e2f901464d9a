package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	_ "github.com/buildchain/buildchain/node/toolchain/gotoolchain"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// goExample imports the go toolchain (from the module cache, where `make deps` puts it) and
// the source of examples/NAME/src into p's store and adds the derivation template
// examples/NAME/NAME.json; it returns the derivation CID.
func goExample(t *testing.T, p *sidecartest.Peer, name string) cid.Cid {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	tc, err := toolchain.Import(ctx, "go", "test", &toolchain.Env{Store: p.Store, Builder: p.Builder})
	require.NoError(t, err, "the go toolchain (make deps puts it in the module cache)")
	t.Logf("%s: go toolchain %s imported in %s", p.Name, tc, time.Since(start).Round(time.Millisecond))
	dir := filepath.Join(localnet.RepoRoot(), "examples", name)
	src, err := p.Store.AddPath(ctx, filepath.Join(dir, "src"), storefs.AddOptions{})
	require.NoError(t, err)
	require.NoError(t, p.Store.Pin("test", "src", src))
	if _, err := p.Builder.Bootstrap(); err != nil {
		_, err = p.Builder.ImportBusybox(ctx, "", "test")
		require.NoError(t, err)
	}
	vars, err := p.Builder.TemplateVars()
	require.NoError(t, err)
	vars["src"] = src.String()
	data, err := os.ReadFile(filepath.Join(dir, name+".json"))
	require.NoError(t, err)
	filled, err := builder.Template(data, vars)
	require.NoError(t, err)
	d, err := derivation.Parse(filled)
	require.NoError(t, err)
	return p.AddDerivation(t, d)
}

// TestGoCLIValid: examples/go-cli (a Go program with a vendored third-party module) built
// with the go toolchain in the sandbox by the publisher, then rebuilt by two build validators
// with their own stores, which fetch the toolchain, the source and the derivation from the
// publisher over bitswap: every build gives the same output CID (byte-identical binaries),
// the claim goes VALID, and the binary runs from the store.
func TestGoCLIValid(t *testing.T) {
	needRootFUSE(t)
	// Exactly two rounds (two builders besides the publisher), no more, one after the other;
	// a cold go build on a busy machine may take ten minutes (seen under a load of 70 on two
	// cores): a long report deadline (blocks of 500 ms) and a long wait below.
	net := localnet.Start(t, localnet.Options{Nodes: 1,
		GenesisJQ: `.app_state.claims.params.min_rounds = 2 | .app_state.claims.params.p_continue = "0.000000000000000000" | .app_state.claims.params.report_timeout_blocks = "4000"`})
	env := sidecartest.NewEnv(t, net)
	// Bob fetches the toolchain (5779 files) when assigned, and the fetch deadline covers the
	// scan of its references too: two minutes were too short under a load of 80 on two cores.
	// Both stay well inside the report deadline.
	env.FetchTimeout, env.BuildTimeout = 15*time.Minute, 15*time.Minute
	pub := env.NewPeer("publisher", "val0", 0)
	drv := goExample(t, pub, "go-cli")
	var builders []*sidecartest.Peer
	for _, name := range []string{"alice", "bob"} {
		p := env.NewPeer(name, name, 0, pub)
		env.Register(p)
		builders = append(builders, p)
	}
	// A builder operator imports the toolchains it builds with once (bootstrap --toolchain
	// go); the test copies the publisher's blocks instead of unpacking the zip again (each
	// block hash-checked on import: the same CID). Alice has it; bob fetches it from the
	// publisher over bitswap when assigned.
	copyToolchains(t, pub, builders[0], "go")
	for _, p := range builders {
		env.StartSidecar(p)
	}
	start := time.Now()
	id, resolved, out, _, _ := pub.Publish(t, drv, cid.Undef)
	t.Logf("publisher built %s -> %s in %s", resolved, out, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	c := sidecartest.WaitClaim(t, pub.Claims, id, 45*time.Minute, "VALID", func(c claimstypes.Claim) bool {
		return c.Status == claimstypes.CLAIM_STATUS_VALID
	})
	t.Logf("VALID %s after submission: %s", time.Since(start).Round(time.Millisecond), sidecartest.FmtAssignments(c))
	require.Len(t, c.Assignments, 2)
	seen := map[string]bool{}
	for _, a := range c.Assignments {
		require.Equal(t, out.String(), a.OutputCid, "the rebuild gave the publisher's bytes")
		seen[a.Validator] = true
	}
	require.Len(t, seen, 2, "two different builders")

	// The binary is static and runs from the store (the FUSE view, at its real CID).
	bin := filepath.Join(pub.Store.MountDir(), out.String(), "bin", "go-cli")
	data, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.NoError(t, builder.CheckStatic(data))
	got, err := exec.Command(bin, "1536").CombinedOutput()
	require.NoError(t, err, "%s", got)
	require.Equal(t, "1.5 kB (1,536 bytes)\n", string(got))
	require.False(t, bytes.Contains(data, []byte(pub.Dir)), "no host path of the publisher in the binary")
}

// copyToolchains gives peer `to` the named toolchains of peer `from`, as if `bootstrap
// --toolchain NAME` had run there (every block hash-checked on import: the same CIDs).
func copyToolchains(t *testing.T, from, to *sidecartest.Peer, names ...string) {
	t.Helper()
	ctx := context.Background()
	tcs, err := from.Builder.Toolchains()
	require.NoError(t, err)
	for _, name := range names {
		tc, ok := tcs[name]
		require.True(t, ok, "%s has no %s toolchain", from.Name, name)
		r, w := io.Pipe()
		go func() { w.CloseWithError(from.Store.ExportCAR(ctx, tc, w)) }()
		_, err = to.Store.ImportCAR(ctx, r)
		require.NoError(t, err)
		require.NoError(t, to.Store.Pin("test", "toolchains", tc))
		refs, err := from.Builder.References(ctx, tc)
		require.NoError(t, err)
		require.NoError(t, to.Builder.RecordRefs(tc, refs))
		require.NoError(t, to.Builder.RecordToolchain(name, tc))
	}
}
