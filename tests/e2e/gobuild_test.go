package e2e

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/node/toolchain"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// tinyModule writes a small Go module at dir: main, a package of its own
// (example.com/tiny/greet) and a vendored third-party module (example.org/shout, listed in
// go.mod and vendor/modules.txt). A non-empty bug is put in main.go as an undefined name.
func tinyModule(t *testing.T, dir, bug string) {
	t.Helper()
	files := map[string]string{
		"go.mod":                            "module example.com/tiny\n\ngo 1.22\n\nrequire example.org/shout v1.0.0\n",
		"greet/greet.go":                    "// Package greet says hello.\npackage greet\n\nimport \"example.org/shout\"\n\n// Hello greets name.\nfunc Hello(name string) string { return shout.Shout(\"hello, \" + name) }\n",
		"main.go":                           "package main\n\nimport \"example.com/tiny/greet\"\n\nfunc main() { println(greet.Hello(\"buildchain\")" + bug + ") }\n",
		"vendor/modules.txt":                "# example.org/shout v1.0.0\n## explicit\nexample.org/shout\n",
		"vendor/example.org/shout/shout.go": "// Package shout ends a phrase with an exclamation mark.\npackage shout\n\n// Shout returns s!\nfunc Shout(s string) string { return s + \"!\" }\n",
	}
	for name, text := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
}

var stepsLine = regexp.MustCompile(`steps: (\d+) done \((\d+) cached, (\d+) substituted, (\d+) built\)`)

// steps parses the final progress line of `go build`: done, cached, substituted, built.
func steps(t *testing.T, stderr string) [4]int { return counts(t, stepsLine, stderr) }

// counts parses the last match of a summary line (`go build`'s steps, `cargo build`'s units)
// into its four numbers: done, cached, substituted, built.
func counts(t *testing.T, line *regexp.Regexp, stderr string) [4]int {
	t.Helper()
	all := line.FindAllStringSubmatch(stderr, -1)
	require.NotEmpty(t, all, "no %q line in %s", line, stderr)
	var n [4]int
	for i := range n {
		n[i], _ = strconv.Atoi(all[len(all)-1][i+1])
	}
	return n
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	return sha256.Sum256(data)
}

// TestGoBuildPublish: `buildchaind go build --publish` (the CLI, in-process) on a two-package
// module claims every step it built in a few batched txs and serves the blocks; two build
// validators rebuild the steps and every claim goes VALID. A second developer with a fresh
// store (only the toolchain imported) and those builders as peers then compiles nothing:
// every step is substituted (blocks fetched over loopback, hash-checked) and the binary is
// byte-identical. A build that does not compile publishes nothing.
//
// Opt-in (E2E_GOBUILD=1, `make test-gobuild`): the program links the runtime, so the cold
// build is about 70 steps (the runtime and its std dependencies, greet, shout, main, the
// link), each built by the publisher and again by a builder: about 7 minutes at a load
// average of 15 on 2 cores, past make test's budget.
func TestGoBuildPublish(t *testing.T) {
	if os.Getenv("E2E_GOBUILD") == "" {
		t.Skip("opt-in: E2E_GOBUILD=1")
	}
	needRootFUSE(t)
	// The steps are many and small: a deadline of 3600 blocks.
	net, env, pub, _, store := frontEndNet(t, "3600", "go")
	ctx := context.Background()

	// A build that does not compile: the compiler's error, no claim.
	src := filepath.Join(t.TempDir(), "src", "tiny")
	tinyModule(t, src, ".Oops")
	_, stderr, err := env.CLI(0, "val0", net.Home(0), append([]string{"go", "build", "--publish", "--from", "val0",
		"-C", src, "-o", filepath.Join(t.TempDir(), "tiny"), "."}, store(pub)...)...)
	require.Error(t, err)
	require.Contains(t, stderr, "Oops undefined")
	require.Contains(t, stderr, "nothing published")
	byPub, err := pub.Claims.Query().ClaimsByPublisher(ctx, &claimstypes.QueryClaimsByPublisherRequest{Publisher: pub.Claims.Validator()})
	require.NoError(t, err)
	require.Empty(t, byPub.Claims)

	// Publish: every step claimed, rebuilt by the builders, VALID.
	tinyModule(t, src, "")
	bin := filepath.Join(t.TempDir(), "tiny")
	start := time.Now()
	stdout, stderr, err := env.CLI(0, "val0", net.Home(0), append([]string{"go", "build", "--publish", "--from", "val0",
		"--wait-timeout", "30m", "-C", src, "-o", bin, "."}, store(pub)...)...)
	require.NoError(t, err, "%s\n%s", stdout, stderr)
	t.Logf("published in %s:\n%s", time.Since(start).Round(time.Millisecond), stdout)
	n := steps(t, stderr)
	require.Greater(t, n[0], 10, "runtime, its dependencies, shout, greet, main and the link")
	require.Zero(t, n[2], "nothing to substitute yet")
	require.Contains(t, stdout, "publish: "+strconv.Itoa(n[0])+" steps to claim, 0 already claimed on chain")
	require.Contains(t, stdout, "claims: "+strconv.Itoa(n[0])+" valid, 0 pending")
	byPub, err = pub.Claims.Query().ClaimsByPublisher(ctx, &claimstypes.QueryClaimsByPublisherRequest{Publisher: pub.Claims.Validator()})
	require.NoError(t, err)
	require.Len(t, byPub.Claims, n[0])
	txs := map[int64]bool{}
	for _, c := range byPub.Claims {
		require.Equal(t, claimstypes.CLAIM_STATUS_VALID, c.Status)
		txs[c.SubmittedHeight] = true
	}
	require.LessOrEqual(t, len(txs), (n[0]+39)/40, "claims batched: at most 40 per tx")
	got, err := exec.Command(bin).CombinedOutput()
	require.NoError(t, err, "%s", got)
	require.Equal(t, "hello, buildchain!\n", string(got))

	// Publishing again claims nothing: the chain has them all.
	stdout, stderr, err = env.CLI(0, "val0", net.Home(0), append([]string{"go", "build", "--publish", "--from", "val0",
		"-C", src, "-o", bin, "."}, store(pub)...)...)
	require.NoError(t, err, "%s\n%s", stdout, stderr)
	require.Contains(t, stdout, "publish: 0 steps to claim, "+strconv.Itoa(n[0])+" already claimed on chain")

	// A second developer: a fresh store with only the toolchain, the builders as peers.
	dev := env.NewPeer("dev2", "", 0)
	copyToolchains(t, pub, dev, "go")
	src2 := filepath.Join(t.TempDir(), "elsewhere", "tiny")
	tinyModule(t, src2, "")
	bin2 := filepath.Join(t.TempDir(), "tiny2")
	start = time.Now()
	stdout, stderr, err = env.CLI(0, "", dev.Dir, append([]string{"go", "build", "-C", src2, "-o", bin2, "."}, store(dev)...)...)
	require.NoError(t, err, "%s\n%s", stdout, stderr)
	t.Logf("second developer in %s: %s", time.Since(start).Round(time.Millisecond), lastLines(stderr, 2))
	require.Equal(t, [4]int{n[0], 0, n[0], 0}, steps(t, stderr), "every step substituted, none compiled")
	require.Equal(t, fileSum(t, bin), fileSum(t, bin2), "byte-identical binaries")
	logs, _ := os.ReadDir(filepath.Join(dev.Dir, "builds", "logs"))
	require.Empty(t, logs, "no build ran in the second developer's sandbox")
}

// frontEndNet is the set-up of the build front ends' --publish tests (go build, cargo build):
// a one-authority localnet where every claim has one round (one builder each), a publisher
// (val0) with the named toolchains imported, and two build validators (alice, bob) with copies
// of them and their sidecars running. Every claim's report deadline starts at once and the
// builders work through them two at a time on a busy machine: reportTimeout blocks (of
// 500 ms) is long, and so are the builders' limits per fetch and per build (a debug build of
// syn takes minutes under a load of 15 on 2 cores). store gives a peer's --store and the
// builders as --peer flags.
func frontEndNet(t *testing.T, reportTimeout string, toolchains ...string) (*localnet.Net, *sidecartest.Env, *sidecartest.Peer, []*sidecartest.Peer, func(*sidecartest.Peer) []string) {
	t.Helper()
	net := localnet.Start(t, localnet.Options{Nodes: 1,
		GenesisJQ: `.app_state.claims.params.min_rounds = 1 | .app_state.claims.params.p_continue = "0.000000000000000000" | .app_state.claims.params.report_timeout_blocks = "` + reportTimeout + `"`})
	env := sidecartest.NewEnv(t, net)
	env.FetchTimeout, env.BuildTimeout = 15*time.Minute, 30*time.Minute
	pub := env.NewPeer("publisher", "val0", 0)
	for _, name := range toolchains {
		start := time.Now()
		_, err := toolchain.Import(context.Background(), name, "test", &toolchain.Env{Store: pub.Store, Builder: pub.Builder})
		require.NoError(t, err, "the %s toolchain (make deps provides what it imports)", name)
		t.Logf("%s toolchain imported in %s", name, time.Since(start).Round(time.Millisecond))
	}
	var peers []string
	var builders []*sidecartest.Peer
	for _, name := range []string{"alice", "bob"} {
		p := env.NewPeer(name, name, 0, pub)
		env.Register(p)
		copyToolchains(t, pub, p, toolchains...)
		env.StartSidecar(p)
		peers = append(peers, "--peer", p.P2P.Addrs()[0].String())
		builders = append(builders, p)
	}
	store := func(p *sidecartest.Peer) []string {
		return append([]string{"--store", filepath.Join(p.Dir, "ipfs"), "--mdns=false"}, peers...)
	}
	return net, env, pub, builders, store
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
