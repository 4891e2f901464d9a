package e2e

import (
	"bytes"
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

	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/cargobuild"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

var unitsLine = regexp.MustCompile(`units: (\d+) done \((\d+) cached, (\d+) substituted, (\d+) built\)`)

// units parses the summary line of `cargo build`: done, cached, substituted, built.
func units(t *testing.T, stderr string) [4]int { return counts(t, unitsLine, stderr) }

// crateCheckout copies a crate of the repository (a path relative to its root) to a fresh
// directory: a checkout at another path.
func crateCheckout(t *testing.T, rel string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "checkout", filepath.Base(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	out, err := exec.Command("cp", "-r", filepath.Join(localnet.RepoRoot(), rel), dst).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return dst
}

// needCargo skips unless opted in (E2E_CARGO=1, `make test-cargo`) on a machine with what
// `make deps` provides: root and FUSE, Debian's cargo and the crates of examples/rust-cli.
func needCargo(t *testing.T) {
	t.Helper()
	if os.Getenv("E2E_CARGO") == "" {
		t.Skip("opt-in: E2E_CARGO=1 (make test-cargo)")
	}
	needRootFUSE(t)
	for _, p := range []string{cargobuild.DebianCargo, "/usr/share/cargo/registry/serde_json-1.0.87"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s missing: run `make deps`", p)
		}
	}
}

// crate is a crate of the repository that cargoPublish publishes.
type crate struct {
	rel  string   // its directory, relative to the repository root
	bin  string   // its binary: target/debug/{bin}
	args []string // run with these arguments,
	want string   // the binary prints this
}

// cargoPublish is the end-to-end of `buildchaind cargo build --publish` (the CLI, in-process)
// on a frontEndNet: the publisher builds every unit of c in a fresh store, claims each one,
// serves the blocks; the build validators (builders) rebuild them in their own stores and
// every claim goes VALID, each round's report the publisher's output. The binary is
// byte-identical to the one the builder that verified its unit holds in its store, and runs.
// Publishing again claims and builds nothing. A second developer with a fresh store (only the
// toolchains) and the builders as peers then compiles nothing: every unit is substituted
// (blocks fetched over loopback, hash-checked) and the binary is byte-identical. It returns
// the number of units.
func cargoPublish(t *testing.T, env *sidecartest.Env, net *localnet.Net, pub *sidecartest.Peer, builders []*sidecartest.Peer,
	store func(*sidecartest.Peer) []string, c crate) int {
	t.Helper()
	ctx := context.Background()
	src := crateCheckout(t, c.rel)
	start := time.Now()
	stdout, stderr, err := env.CLI(0, "val0", net.Home(0), append([]string{"cargo", "build", "--publish", "--from", "val0",
		"--wait-timeout", "60m", "-C", src, "--offline"}, store(pub)...)...)
	require.NoError(t, err, "%s\n%s", stdout, stderr)
	t.Logf("published in %s:\n%s", time.Since(start).Round(time.Millisecond), stdout)
	n := units(t, stderr)
	require.Equal(t, n[0], n[3], "a fresh store builds every unit")
	require.Contains(t, stdout, "publish: "+strconv.Itoa(n[0])+" units to claim, 0 already claimed on chain")
	require.Contains(t, stdout, "claims: "+strconv.Itoa(n[0])+" valid, 0 pending")
	bin := filepath.Join(src, "target", "debug", c.bin)
	require.Contains(t, stdout, bin)
	binSum := fileSum(t, bin)

	// Every claim VALID, each round built by a builder (not the publisher) that got the
	// claimed output; the binary's unit, as that builder holds it, is target/debug/{bin}.
	byAddr := map[string]*sidecartest.Peer{}
	for _, b := range builders {
		byAddr[b.Claims.Validator()] = b
	}
	res, err := pub.Claims.Query().ClaimsByPublisher(ctx, &claimstypes.QueryClaimsByPublisherRequest{Publisher: pub.Claims.Validator()})
	require.NoError(t, err)
	require.Len(t, res.Claims, n[0])
	perBuilder := map[string]int{}
	binPrefix := strings.ReplaceAll(c.bin, "-", "_") + "-"
	var binChecked int
	for _, cl := range res.Claims {
		require.Equal(t, claimstypes.CLAIM_STATUS_VALID, cl.Status, "claim %d", cl.Id)
		require.NotEmpty(t, cl.Assignments)
		out, err := cid.Decode(cl.OutputCid)
		require.NoError(t, err, "claim %d", cl.Id)
		for _, a := range cl.Assignments {
			b := byAddr[a.Validator]
			require.NotNil(t, b, "claim %d round %d built by %s, not a builder", cl.Id, a.Round, a.Validator)
			require.Equal(t, cl.OutputCid, a.OutputCid, "claim %d: %s's rebuild is the publisher's output", cl.Id, b.Name)
			perBuilder[b.Name]++
			ents, err := b.Store.List(ctx, out, "")
			require.NoError(t, err, "claim %d: %s holds the output it reported", cl.Id, b.Name)
			for _, e := range ents {
				if !strings.HasPrefix(e.Name, binPrefix) || strings.HasSuffix(e.Name, ".d") {
					continue
				}
				var got bytes.Buffer
				require.NoError(t, b.Store.Cat(ctx, out, e.Name, &got))
				require.Equal(t, binSum, sha256.Sum256(got.Bytes()), "%s's %s is target/debug/%s byte for byte", b.Name, e.Name, c.bin)
				binChecked++
			}
		}
	}
	require.NotZero(t, binChecked, "a builder verified the binary's unit")
	t.Logf("%d claims VALID, rounds built per builder: %v", len(res.Claims), perBuilder)

	// The program runs with the gcc toolchain's loader and libc (read from the store's FUSE view).
	tcs, err := pub.Builder.Toolchains()
	require.NoError(t, err)
	lib := filepath.Join(pub.Store.MountDir(), tcs["gcc"].String(), "usr", "lib", "x86_64-linux-gnu")
	got, err := exec.Command(filepath.Join(lib, "ld-linux-x86-64.so.2"), append([]string{"--library-path", lib, bin}, c.args...)...).CombinedOutput()
	require.NoError(t, err, "%s", got)
	require.Equal(t, c.want, string(got))

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
	src2 := crateCheckout(t, c.rel)
	start = time.Now()
	stdout, stderr, err = env.CLI(0, "", dev.Dir, append([]string{"cargo", "build", "-C", src2, "--offline"}, store(dev)...)...)
	require.NoError(t, err, "%s\n%s", stdout, stderr)
	t.Logf("second developer in %s: %s", time.Since(start).Round(time.Millisecond), lastLines(stderr, 1))
	require.Equal(t, [4]int{n[0], 0, n[0], 0}, units(t, stderr), "every unit substituted, none compiled")
	require.Equal(t, binSum, fileSum(t, filepath.Join(src2, "target", "debug", c.bin)), "byte-identical binaries")
	logs, _ := os.ReadDir(filepath.Join(dev.Dir, "builds", "logs"))
	require.Empty(t, logs, "no build ran in the second developer's sandbox")
	return n[0]
}

// TestCargoBuildPublish: cargoPublish on node/cargobuild's testdata/small, a crate with one
// unit of every kind (a registry dependency, itoa; a proc-macro crate of its workspace; a
// build script's compile and run, whose rustc-env and rustc-cfg the binary uses; the binary).
// Before it, a crate whose build script needs the network fails with the script's own error
// and publishes nothing.
//
// Opt-in (E2E_CARGO=1, `make test-cargo`): importing the rust and gcc toolchains and the
// localnet take minutes on a loaded machine (about 5 minutes at a load average of 15).
func TestCargoBuildPublish(t *testing.T) {
	needCargo(t)
	net, env, pub, builders, store := frontEndNet(t, "7200", "rust", "gcc")

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
	res, err := pub.Claims.Query().ClaimsByPublisher(context.Background(), &claimstypes.QueryClaimsByPublisherRequest{Publisher: pub.Claims.Validator()})
	require.NoError(t, err)
	require.Empty(t, res.Claims)

	n := cargoPublish(t, env, net, pub, builders, store, crate{rel: filepath.Join("node", "cargobuild", "testdata", "small"),
		bin: "small", args: []string{"1", "2", "3"}, want: "hello from a proc macro, built by a build script: 6\n"})
	require.Equal(t, 5, n, "itoa, greet-macro, the build script's compile and run, the binary")
}

// TestCargoRustCLIValid: cargoPublish on examples/rust-cli, a real CLI with several
// dependencies from Debian's registry: serde with its derive feature (the serde_derive proc
// macro, built on syn, quote and proc-macro2) and serde_json (itoa, ryu), six of them with
// build scripts. Every unit is rebuilt by a build validator and declared VALID; the
// binary the builders verified is target/debug/rust-cli byte for byte; a second developer
// compiles none of it.
//
// Opt-in (E2E_CARGO=1, `make test-cargo`): two cold builds of the crate (the publisher's, the
// builders' rebuilds), syn's the longest, besides the toolchain imports.
func TestCargoRustCLIValid(t *testing.T) {
	needCargo(t)
	net, env, pub, builders, store := frontEndNet(t, "7200", "rust", "gcc")
	n := cargoPublish(t, env, net, pub, builders, store, crate{rel: filepath.Join("examples", "rust-cli"),
		bin: "rust-cli", args: []string{`[{"x":1,"y":2},{"x":3,"y":4}]`},
		want: `{"points":[{"x":1,"y":2},{"x":3,"y":4}],"sum":{"x":4,"y":6}}` + "\n"})
	require.Equal(t, 24, n, "as Debian cargo's build plan lists them: 8 libraries (serde, serde_json, itoa, ryu, syn, "+
		"quote, proc-macro2, unicode-ident), the serde_derive proc macro, 7 build scripts compiled and run, the binary")
}
