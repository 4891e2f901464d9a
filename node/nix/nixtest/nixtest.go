// Package nixtest runs the real Nix (Debian's nix-bin, installed by `make deps`) for tests:
// as root, without a daemon, on a store under a test's temporary directory (`--store ROOT`:
// paths are /nix/store/... logically and ROOT/nix/store/... on disk), never the host's /nix.
package nixtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/builder/buildertest"
	"github.com/buildchain/buildchain/node/storefs"
)

// Store opens a store (dir/ipfs, closed when the test ends) and a builder on it (state in
// dir/builds, no FUSE, log to log if not nil) for the tests that import Nix's builds; dir
// is made world-readable for the sandbox.
func Store(t testing.TB, dir string, log io.Writer) (*storefs.Store, *builder.Builder) {
	t.Helper()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	no := false
	return buildertest.Open(t, dir, builder.Config{Log: log, Timeout: 2 * time.Minute, UseFUSE: &no})
}

// Env is the environment every nix command gets: no build users (we run as root without a
// daemon), one core (builds see NIX_BUILD_CORES=1, as in our sandbox), no substituters.
func Env(extra ...string) []string {
	conf := strings.Join(append([]string{
		"build-users-group =",
		"substituters =",
		"cores = 1",
		"experimental-features = nix-command",
		// A 404 from a cache is remembered for an hour by default; tests ask again.
		"narinfo-cache-negative-ttl = 0",
	}, extra...), "\n")
	env := []string{"NIX_CONFIG=" + conf, "PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	return env
}

// Need skips the test when nix is not installed and this is not root. Under `make test`
// (which runs `make deps` as root) it never skips.
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("nix-instantiate"); err != nil {
		t.Skip("nix-bin is not installed (make deps installs it)")
	}
	if os.Getuid() != 0 {
		t.Skip("nix without a daemon needs root")
	}
}

// Run runs a nix command and returns its stdout; it fails the test on an error.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := RunErr(name, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RunErr runs a nix command with extra nix.conf lines; the error includes its stderr.
func RunErr(name string, conf []string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = Env(conf...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Busybox makes dir/busybox (bin/busybox, bin/sh -> busybox) from the host's static busybox,
// for expressions to add with builtins.path; it returns the directory.
func Busybox(t testing.TB, dir string) string {
	t.Helper()
	src := "/bin/busybox"
	if _, err := os.Stat(src); err != nil {
		t.Skip("no /bin/busybox (busybox-static, make deps)")
	}
	bb := filepath.Join(dir, "busybox")
	if err := os.MkdirAll(filepath.Join(bb, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bb, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(bb, "bin", "sh")); err != nil {
		t.Fatal(err)
	}
	return bb
}

// Instantiate writes expr to dir/default.nix and instantiates it into the store at root;
// it returns the .drv store paths printed (one per derivation the expression evaluates to).
func Instantiate(t testing.TB, root, dir, expr string) []string {
	t.Helper()
	file := filepath.Join(dir, "default.nix")
	if err := os.WriteFile(file, []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.Fields(Run(t, "nix-instantiate", "--store", root, file))
}

// OnDisk is where a logical /nix/store path of the store at root lives.
func OnDisk(root, storePath string) string { return filepath.Join(root, storePath) }
