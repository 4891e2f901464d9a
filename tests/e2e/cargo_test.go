package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/cargobuild"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

var unitsLine = regexp.MustCompile(`units: (\d+) done \((\d+) cached, (\d+) substituted, (\d+) built\)`)

// units parses the summary line of `cargo build`: done, cached, substituted, built.
func units(t *testing.T, stderr string) [4]int { return counts(t, unitsLine, stderr) }

// smallCrate copies node/cargobuild's testdata/small to a fresh directory (a checkout at
// another path): a registry dependency (itoa, from Debian's registry), a proc-macro crate of
// its workspace and a build script whose rustc-env and rustc-cfg the binary uses.
func smallCrate(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dst := filepath.Join(t.TempDir(), "checkout", "small")
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	out, err := exec.Command("cp", "-r", filepath.Join(filepath.Dir(file), "..", "..", "node", "cargobuild", "testdata", "small"), dst).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return dst
}

// TestCargoBuildPublish: `buildchaind cargo build --publish` (the CLI, in-process) on a small
// crate with one of every unit kind (a registry dependency, a proc macro, a build script's
// compile and run, the binary) claims every unit it built and serves the blocks; two build
// validators rebuild the units and every claim goes VALID. A second developer with a fresh
// store (only the toolchains) and those builders as peers then compiles nothing: every unit
// is substituted (blocks fetched over loopback, hash-checked) and target/debug/small is
// byte-identical. A crate whose build script needs the network fails with the script's own
// error and publishes nothing. (examples/rust-cli, serde and serde_json with their build
// scripts, is node/cargobuild TestCargoBuild's: its units are the same kinds, only more.)
//
// Opt-in (E2E_CARGO=1, `make test-cargo`): importing the rust and gcc toolchains and the
// localnet take minutes on a loaded machine.
func TestCargoBuildPublish(t *testing.T) {
	if os.Getenv("E2E_CARGO") == "" {
		t.Skip("opt-in: E2E_CARGO=1 (make test-cargo)")
	}
	needRootFUSE(t)
	for _, p := range []string{cargobuild.DebianCargo, "/usr/share/cargo/registry/serde_json-1.0.87"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s missing: run `make deps`", p)
		}
	}
	net, env, pub, store := frontEndNet(t, "7200", "rust", "gcc")
	ctx := context.Background()
	claimsOf := func(p *sidecartest.Peer) []claimstypes.Claim {
		res, err := p.Claims.Query().ClaimsByPublisher(ctx, &claimstypes.QueryClaimsByPublisherRequest{Publisher: p.Claims.Validator()})
		require.NoError(t, err)
		return res.Claims
	}

	// A build script that needs the network: its own error, nothing published.
	bad := filepath.Join(t.TempDir(), "needs-net")
	require.NoError(t, os.MkdirAll(filepath.Join(bad, "src"), 0o755))
	for name, text := range map[string]string{
		"Cargo.toml":  "[package]\nname = \"needs-net\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
		"build.rs":    "use std::net::ToSocketAddrs;\nfn main() { \"index.crates.io:443\".to_socket_addrs().expect(\"build script: cannot resolve index.crates.io\"); }\n",
		"src/main.rs": "fn main() {}\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(bad, name), []byte(text), 0o644))
	}
	_, stderr, err := env.CLI(0, "val0", net.Home(0), append([]string{"cargo", "build", "--publish", "--from", "val0", "-C", bad, "--offline"}, store(pub)...)...)
	require.Error(t, err)
	require.Contains(t, err.Error(), "build script: cannot resolve index.crates.io")
	require.Contains(t, stderr, "nothing published")
	require.Empty(t, claimsOf(pub))

	// Publish: every unit claimed, rebuilt by the builders, VALID.
	src := smallCrate(t)
	start := time.Now()
	stdout, stderr, err := env.CLI(0, "val0", net.Home(0), append([]string{"cargo", "build", "--publish", "--from", "val0",
		"--wait-timeout", "60m", "-C", src, "--offline"}, store(pub)...)...)
	require.NoError(t, err, "%s\n%s", stdout, stderr)
	t.Logf("published in %s:\n%s", time.Since(start).Round(time.Millisecond), stdout)
	n := units(t, stderr)
	require.Equal(t, 5, n[0], "itoa, greet-macro, the build script's compile and run, the binary")
	require.Equal(t, n[0], n[3], "a fresh store builds every unit")
	require.Contains(t, stdout, "publish: "+strconv.Itoa(n[0])+" units to claim, 0 already claimed on chain")
	require.Contains(t, stdout, "claims: "+strconv.Itoa(n[0])+" valid, 0 pending")
	bin := filepath.Join(src, "target", "debug", "small")
	require.Contains(t, stdout, bin)
	cs := claimsOf(pub)
	require.Len(t, cs, n[0])
	for _, c := range cs {
		require.Equal(t, claimstypes.CLAIM_STATUS_VALID, c.Status)
	}
	// The program runs with the gcc toolchain's loader and libc (read from the store's FUSE view).
	tcs, err := pub.Builder.Toolchains()
	require.NoError(t, err)
	lib := filepath.Join(pub.Store.MountDir(), tcs["gcc"].String(), "usr", "lib", "x86_64-linux-gnu")
	got, err := exec.Command(filepath.Join(lib, "ld-linux-x86-64.so.2"), "--library-path", lib, bin, "1", "2", "3").CombinedOutput()
	require.NoError(t, err, "%s", got)
	require.Equal(t, "hello from a proc macro, built by a build script: 6\n", string(got))

	// Publishing again claims nothing: the chain has them all; nothing is rebuilt.
	stdout, stderr, err = env.CLI(0, "val0", net.Home(0), append([]string{"cargo", "build", "--publish", "--from", "val0",
		"-C", src, "--offline"}, store(pub)...)...)
	require.NoError(t, err, "%s\n%s", stdout, stderr)
	require.Equal(t, [4]int{n[0], n[0], 0, 0}, units(t, stderr), "every unit cached")
	require.Contains(t, stdout, "publish: 0 units to claim, "+strconv.Itoa(n[0])+" already claimed on chain")

	// A second developer: a fresh store with only the toolchains, the builders as peers, the
	// crate at another path.
	dev := env.NewPeer("dev2", "", 0)
	copyToolchains(t, pub, dev, "rust", "gcc")
	src2 := smallCrate(t)
	start = time.Now()
	stdout, stderr, err = env.CLI(0, "", dev.Dir, append([]string{"cargo", "build", "-C", src2, "--offline"}, store(dev)...)...)
	require.NoError(t, err, "%s\n%s", stdout, stderr)
	t.Logf("second developer in %s: %s", time.Since(start).Round(time.Millisecond), lastLines(stderr, 1))
	require.Equal(t, [4]int{n[0], 0, n[0], 0}, units(t, stderr), "every unit substituted, none compiled")
	require.Equal(t, fileSum(t, bin), fileSum(t, filepath.Join(src2, "target", "debug", "small")), "byte-identical binaries")
	logs, _ := os.ReadDir(filepath.Join(dev.Dir, "builds", "logs"))
	require.Empty(t, logs, "no build ran in the second developer's sandbox")
}
