package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/nix-community/go-nix/pkg/narinfo"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/nix/nixtest"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// TestNixBinaryCache is docs/NIX.md end to end with the real Nix client: a Nix expression
// (busybox added with builtins.path, "hello" depending on "greeting" and referring to its
// output) is instantiated by nix; `buildchaind nix import` records both .drv files; they are
// published and a build validator rebuilds them until both claims are VALID; `buildchaind nix
// serve` (a process) answers 404 before and serves them after; a second, empty Nix store with
// only this cache as substituter and its key trusted realises the .drv: it substitutes, builds
// nothing (max-jobs 0), `nix-store --verify-path` passes, and the NarHash served equals that
// of Nix's own build of the same .drv. A malformed .drv is refused by import.
func TestNixBinaryCache(t *testing.T) {
	needRootFUSE(t)
	nixtest.Need(t)
	bin := localnet.Binary(t)
	net := localnet.Start(t, localnet.Options{Nodes: 1,
		GenesisJQ: `.app_state.claims.params.min_rounds = 1 | .app_state.claims.params.p_continue = "0.000000000000000000" | .app_state.claims.params.report_timeout_blocks = "600"`})
	env := sidecartest.NewEnv(t, net)
	pub := env.NewPeer("publisher", "val0", 0)
	alice := env.NewPeer("alice", "alice", 0, pub)
	env.Register(alice)
	env.StartSidecar(alice)

	dir := filepath.Join(env.Dir, "nix")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	root := filepath.Join(dir, "root")
	expr := nixtest.TwoStep(nixtest.Busybox(t, dir), "e2e")
	drvs := nixtest.Instantiate(t, root, dir, expr)
	storeFlag := "--store=" + pub.Store.Root()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			return out.String() + errb.String(), err
		}
		return out.String(), nil
	}

	// Bad input first: a truncated .drv under a store name is refused, nothing imported.
	data, err := os.ReadFile(nixtest.OnDisk(root, drvs[0]))
	require.NoError(t, err)
	bad := filepath.Join(root, "nix", "store", strings.Repeat("0", 32)+"-bad.drv")
	require.NoError(t, os.WriteFile(bad, data[:len(data)-3], 0o444))
	out, err := run("nix", "import", storeFlag, bad)
	require.Error(t, err, "a malformed .drv imported: %s", out)
	require.Contains(t, out, "malformed Nix derivation")

	out, err = run("nix", "import", storeFlag, "--nix-root", root, drvs[0])
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	type imported struct {
		drv           cid.Cid
		drvPath, path string
	}
	var ims []imported
	for _, l := range lines {
		f := strings.Fields(l)
		require.Len(t, f, 3, l)
		c, err := cid.Decode(f[0])
		require.NoError(t, err)
		ims = append(ims, imported{c, f[1], f[2]})
	}
	greeting, hello := ims[0], ims[1]
	require.Equal(t, drvs[0], hello.drvPath)

	// The cache, as its own process on the publisher's store.
	serve := exec.Command(bin, "nix", "serve", storeFlag, "--listen", "127.0.0.1:0", "--node", net.RPCAddr(0),
		"--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false")
	stdout, err := serve.StdoutPipe()
	require.NoError(t, err)
	var serveLog bytes.Buffer
	serve.Stderr = &serveLog
	require.NoError(t, serve.Start())
	t.Cleanup(func() {
		_ = serve.Process.Kill()
		_ = serve.Wait()
		if t.Failed() {
			t.Logf("nix serve log:\n%s", serveLog.String())
		}
	})
	first, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	f := strings.Fields(first) // serving a Nix binary cache on URL (public key KEY)
	require.GreaterOrEqual(t, len(f), 9, first)
	url, key := f[6], strings.TrimSuffix(f[9], ")")
	keyOut, err := run("nix", "key", storeFlag)
	require.NoError(t, err, keyOut)
	require.Equal(t, key, strings.TrimSpace(keyOut))

	narinfoURL := url + "/" + hello.path[len("/nix/store/"):len("/nix/store/")+32] + ".narinfo"
	code, body := httpGet(t, narinfoURL)
	require.Equal(t, 404, code, "served before any claim: %s", body)
	require.Contains(t, body, "no VALID claim")

	start := time.Now()
	var ids []uint64
	for _, im := range []imported{greeting, hello} {
		id, resolved, output, _, _ := pub.Publish(t, im.drv, cid.Undef)
		t.Logf("published %s: resolved %s, output %s, claim %d", im.drvPath, resolved, output, id)
		ids = append(ids, id)
	}
	for _, id := range ids {
		sidecartest.WaitClaim(t, pub.Claims, id, 10*time.Minute, "VALID", func(c claimstypes.Claim) bool {
			return c.Status == claimstypes.CLAIM_STATUS_VALID
		})
	}
	t.Logf("both claims VALID %s after submission", time.Since(start).Round(time.Millisecond))

	code, body = httpGet(t, narinfoURL)
	require.Equal(t, 200, code, body)
	ni, err := narinfo.Parse(strings.NewReader(body))
	require.NoError(t, err, body)
	require.Equal(t, hello.path, ni.StorePath)
	require.Len(t, ni.References, 2, "greeting's output and busybox: %s", body)

	// A second, empty Nix store: instantiate there (the .drv and the busybox source, as any
	// user evaluating the expression gets), then realise with only our cache.
	root2 := filepath.Join(dir, "client")
	require.Equal(t, drvs, nixtest.Instantiate(t, root2, dir, expr))
	conf := []string{"substituters = " + url, "trusted-public-keys = " + key, "max-jobs = 0"}
	realised, err := nixtest.RunErr("nix-store", conf, "--store", root2, "--realise", drvs[0])
	require.NoError(t, err, "substitution")
	require.Equal(t, hello.path, realised)
	for _, p := range []string{hello.path, greeting.path} {
		nixtest.Run(t, "nix-store", "--store", root2, "--verify-path", p)
	}
	greet, err := os.ReadFile(filepath.Join(nixtest.OnDisk(root2, greeting.path), "share", "greeting"))
	require.NoError(t, err)
	require.Equal(t, "hello from nix\n", string(greet))

	// Nix's own local build of the same .drv has the NarHash we served.
	nixtest.Run(t, "nix-store", "--store", root, "--realise", drvs[0])
	require.Equal(t, nixtest.Run(t, "nix-store", "--store", root, "--query", "--hash", hello.path), ni.NarHash.String())
	require.Equal(t, nixtest.Run(t, "nix-store", "--store", root2, "--query", "--hash", hello.path), ni.NarHash.String())
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
