package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	_ "github.com/buildchain/buildchain/node/toolchain/gotoolchain"
)

func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

func repo() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// copyTree copies a source tree (files and directories).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	}))
}

func sum(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

func derivations(st *Stats) map[cid.Cid]bool {
	out := map[cid.Cid]bool{}
	for _, s := range st.Steps {
		out[s.Derivation] = true
	}
	return out
}

// TestGoBuild: examples/go-cli (a vendored third-party module) built step by step in the
// sandbox gives the bytes of a plain go build -trimpath with the same toolchain; a second
// build and a build of the same source at another path run nothing and use the same
// derivations; after editing the vendored package only it, the main package and the link run
// again; a compile error is the compiler's message with the host path; a directory outside
// any module is refused.
func TestGoBuild(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: every step runs in the sandbox")
	}
	if _, err := os.Stat(builder.DefaultBusybox); err != nil {
		t.Skip("needs Debian busybox-static")
	}
	ctx := context.Background()
	home := t.TempDir()
	require.NoError(t, os.Chmod(home, 0o755))
	s, err := storefs.Open(filepath.Join(home, "ipfs"))
	require.NoError(t, err)
	defer s.Close()
	no := false
	b, err := builder.New(s, builder.Config{StateDir: filepath.Join(home, "builds"), UseFUSE: &no})
	require.NoError(t, err)
	tc, err := toolchain.Import(ctx, "go", "", &toolchain.Env{Store: s, Builder: b})
	require.NoError(t, err, "the go toolchain (make deps puts it in the module cache)")
	bb, err := b.ImportBusybox(ctx, "", "")
	require.NoError(t, err)
	goroot, err := b.InputPath(ctx, tc)
	require.NoError(t, err)

	// plain is go build -trimpath with the same toolchain, a fresh GOCACHE, CGO_ENABLED=0.
	plain := func(dir string) string {
		out := filepath.Join(t.TempDir(), "plain")
		cmd := exec.Command(filepath.Join(goroot, "bin", "go"), "build", "-trimpath", "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOCACHE="+t.TempDir(), "GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOROOT=", "GOENV=off", "GOFLAGS=")
		o, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", o)
		return sum(t, out)
	}
	var progress bytes.Buffer
	build := func(dir string) (*Stats, string, error) {
		out := filepath.Join(t.TempDir(), "go-cli")
		var log bytes.Buffer
		st, err := Run(ctx, Config{Store: s, Builder: b, Toolchain: tc, Bootstrap: bb, Dir: dir,
			Args: []string{"-o", out, "."}, Env: []string{"GOFLAGS="}, Progress: &progress, Log: &log})
		if err != nil {
			return st, log.String(), err
		}
		return st, sum(t, out), nil
	}

	a := filepath.Join(t.TempDir(), "a", "go-cli")
	copyTree(t, filepath.Join(repo(), "examples", "go-cli", "src"), a)
	first, got, err := build(a)
	require.NoError(t, err, got)
	require.Equal(t, plain(a), got, "byte-identical to go build -trimpath")
	require.Greater(t, first.Built, 50, "std, the vendored module, main and the link")
	require.Zero(t, first.Cached)
	t.Logf("cold: %d steps built", first.Built)
	require.Contains(t, progress.String(), "steps: ")

	again, got2, err := build(a)
	require.NoError(t, err)
	require.Equal(t, got, got2)
	require.Zero(t, again.Built, "nothing changed: nothing runs")
	require.Equal(t, len(first.Steps), again.Cached)

	other := filepath.Join(t.TempDir(), "elsewhere", "deeper", "src")
	copyTree(t, a, other)
	moved, got3, err := build(other)
	require.NoError(t, err)
	require.Equal(t, got, got3)
	require.Zero(t, moved.Built)
	require.Equal(t, derivations(first), derivations(moved), "same derivation CIDs from another path")

	// Edit the vendored package: it, main and the link run again, nothing else.
	humanize := filepath.Join(other, "vendor", "github.com", "dustin", "go-humanize", "comma.go")
	data, err := os.ReadFile(humanize)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(humanize, append(data, []byte("\nfunc Edited() {}\n")...), 0o644))
	edited, got4, err := build(other)
	require.NoError(t, err)
	require.NotEqual(t, got, got4)
	require.Equal(t, plain(other), got4)
	var rebuilt []string
	for _, st := range edited.Steps {
		if !st.Cached {
			rebuilt = append(rebuilt, st.Tool+" "+st.ImportPath)
		}
	}
	require.ElementsMatch(t, []string{"compile github.com/dustin/go-humanize", "compile example.com/go-cli", "link example.com/go-cli"}, rebuilt)

	// A compile error: the compiler's message, at the host path; the go command fails.
	main := filepath.Join(other, "main.go")
	data, err = os.ReadFile(main)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(main, bytes.Replace(data, []byte("os.Exit(2)"), []byte("os.Exit(undefinedThing)"), 1), 0o644))
	_, log, err := build(other)
	require.Error(t, err)
	require.Contains(t, log, "undefined: undefinedThing")
	require.Contains(t, log, "main.go:", "the file is named")
	require.False(t, strings.Contains(log, "/ipfs/store/"), log)

	_, _, err = build(t.TempDir())
	require.ErrorIs(t, err, ErrNotModule)
}
