package buildcli

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "buildchaind", SilenceErrors: true}
	root.AddCommand(Commands(nil)...)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

func examples(p string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", p)
}

func TestCLIEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds run in namespaces")
	}
	if _, err := os.Stat(builder.DefaultBusybox); err != nil {
		t.Skip("needs Debian busybox-static")
	}
	h := t.TempDir()
	require.NoError(t, os.Chmod(h, 0o755))
	t.Setenv("BUILDCHAIN_HOME", h)
	t.Setenv("HOME", h)

	bb, _, err := run(t, "bootstrap")
	require.NoError(t, err)
	bb = strings.TrimSpace(bb)
	require.True(t, strings.HasPrefix(bb, "bafy"), bb)

	drv, _, err := run(t, "drv", "add", examples("hello/hello.json"))
	require.NoError(t, err)
	drv = strings.TrimSpace(drv)
	shown, _, err := run(t, "drv", "show", drv)
	require.NoError(t, err)
	require.Contains(t, shown, `"builder":"/ipfs/store/`+bb+`/bin/sh"`)

	out, stderr, err := run(t, "build", drv)
	require.NoError(t, err, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	require.Regexp(t, `^build time: \d+ ms$`, lines[1])
	require.Contains(t, stderr, "built hello")
	link := filepath.Join(h, "result")
	_, _, err = run(t, "build", "-q", "-o", link, drv)
	require.NoError(t, err)
	target, err := os.Readlink(link)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(target, "/store/"+lines[0]), target)
	pins, err := filepath.Glob(filepath.Join(h, "ipfs", "pins", "per-user", "*", "build", "auto", "*"))
	require.NoError(t, err)
	require.Len(t, pins, 1, "the out-link is an auto GC root")
	out2, _, err := run(t, "build", "-q", drv)
	require.NoError(t, err)
	require.Equal(t, lines[0]+"\n", out2)
	out3, _, err := run(t, "build", drv)
	require.NoError(t, err)
	require.Contains(t, out3, "(cached)")

	// Multi-step with --set, and a file argument to build.
	lib, _, err := run(t, "drv", "add", examples("multi-step/lib.json"))
	require.NoError(t, err)
	app, _, err := run(t, "drv", "add", "--set", "lib="+strings.TrimSpace(lib), examples("multi-step/app.json"))
	require.NoError(t, err)
	appOut, stderr, err := run(t, "build", "-q", strings.TrimSpace(app))
	require.NoError(t, err, stderr)
	_, _, err = run(t, "drv", "add", examples("multi-step/app.json"))
	require.ErrorContains(t, err, "@lib@")

	// Non-determinism is reported by --check.
	nd, _, err := run(t, "drv", "add", examples("nondeterministic/nondeterministic.json"))
	require.NoError(t, err)
	_, _, err = run(t, "build", strings.TrimSpace(nd))
	require.NoError(t, err)
	_, stderr, err = run(t, "build", "--check", strings.TrimSpace(nd))
	require.ErrorIs(t, err, builder.ErrNondeterministic)
	require.ErrorContains(t, err, "is not reproducible")
	require.NotContains(t, stderr, "Usage:")
	_, _, err = run(t, "build", "--check", drv)
	require.NoError(t, err)

	// Profiles.
	out, _, err = run(t, "profile", "install", lines[0])
	require.NoError(t, err)
	require.Equal(t, "generation 1\n", out)
	out, _, err = run(t, "profile", "install", strings.TrimSpace(appOut))
	require.NoError(t, err)
	require.Equal(t, "generation 2\n", out)
	list, _, err := run(t, "profile", "list")
	require.NoError(t, err)
	require.Regexp(t, `\*\s+2 `, list)
	target, err = os.Readlink(filepath.Join(h, ".buildchain-profile", "bin", "hello"))
	require.NoError(t, err)
	require.Contains(t, target, lines[0])
	out, _, err = run(t, "profile", "rollback")
	require.NoError(t, err)
	require.Equal(t, "generation 1\n", out)
	_, err = os.Lstat(filepath.Join(h, ".buildchain-profile", "bin", "app"))
	require.True(t, os.IsNotExist(err))
	_, _, err = run(t, "profile", "switch", "2")
	require.NoError(t, err)
	_, err = os.Lstat(filepath.Join(h, ".buildchain-profile", "bin", "app"))
	require.NoError(t, err)

	// Bad input.
	_, _, err = run(t, "build", "not-a-cid-or-file")
	require.ErrorContains(t, err, "neither a derivation CID nor a file")
	bad := filepath.Join(h, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"name":"x","system":"@system@","outputs":["out"],"inputs":[],"args":[],"env":{}}`), 0o644))
	_, _, err = run(t, "drv", "add", bad)
	require.ErrorContains(t, err, "missing builder")
	// A fixed-output derivation whose outputHash is not a CID: a clear error, nothing stored.
	before := storeFiles(t, filepath.Join(h, "ipfs"))
	_, _, err = run(t, "drv", "add", "--set", "name=x", "--set", "url=http://127.0.0.1:9/x.tar.gz",
		"--set", "hash=sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", examples("fetch/tarball.json"))
	require.ErrorIs(t, err, derivation.ErrOutputHash)
	require.ErrorContains(t, err, `"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" is not a CID`)
	require.Equal(t, before, storeFiles(t, filepath.Join(h, "ipfs")), "the store is unchanged")
}

// storeFiles lists every file under a store directory (blocks, pins, indexes), with its size.
func storeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d", p, info.Size()))
		return nil
	}))
	return out
}
