package gobuild_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	. "github.com/buildchain/buildchain/node/gobuild"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/p2p/p2ptest"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	_ "github.com/buildchain/buildchain/node/toolchain/gotoolchain"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

func repo() string {
	_, file, _, _ := goruntime.Caller(0)
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

// verified plays the chain for the substitution test: the outputs of the derivations a
// first build made (tests/e2e TestGoBuildPublish has the real chain decide them).
type verified map[cid.Cid]cid.Cid

func (v verified) VerifiedOutput(_ context.Context, drv cid.Cid) (string, uint64, bool, error) {
	out, ok := v[drv]
	if !ok {
		return "", 0, false, nil
	}
	return out.String(), 1, true, nil
}

// timing is where a build's time went (for the log: never asserted).
func timing(st *Stats) string {
	return st.Line() + "; " + st.TimeLine()
}

// newRuntime opens a node (store, builder, p2p on loopback) in a fresh home, bootstrapped
// to peers.
func newRuntime(t *testing.T, peers ...*runtime.Runtime) *runtime.Runtime {
	t.Helper()
	home := t.TempDir()
	require.NoError(t, os.Chmod(home, 0o755))
	var boot []string
	for _, p := range peers {
		n, err := p.P2P()
		require.NoError(t, err)
		for _, a := range n.Addrs() {
			boot = append(boot, a.String())
		}
	}
	no := false
	rt, err := runtime.Open(runtime.Config{StoreRoot: filepath.Join(home, "ipfs"),
		Builder: builder.Config{UseFUSE: &no, Log: io.Discard},
		P2P: &p2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: boot,
			ReprovideInterval: -1, ReannounceInterval: -1}})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt
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
	rtA := newRuntime(t)
	s, b := rtA.Store(), rtA.Builder()
	// Pinned, as `bootstrap` does: the GC below keeps them.
	tc, err := toolchain.Import(ctx, "go", "test", &toolchain.Env{Store: s, Builder: b})
	require.NoError(t, err, "the go toolchain (make deps puts it in the module cache)")
	bb, err := b.ImportBusybox(ctx, "", "test")
	require.NoError(t, err)
	goroot, err := b.InputPath(ctx, tc)
	require.NoError(t, err)

	// plain is go build -trimpath with the same toolchain, a fresh GOCACHE, CGO_ENABLED=0.
	plain := func(dir string) string {
		defer func(start time.Time) { t.Logf("plain go build: %s", time.Since(start).Round(time.Millisecond)) }(time.Now())
		out := filepath.Join(t.TempDir(), "plain")
		cmd := exec.Command(filepath.Join(goroot, "bin", "go"), "build", "-trimpath", "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOCACHE="+t.TempDir(), "GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOROOT=", "GOENV=off", "GOFLAGS=")
		o, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", o)
		return sum(t, out)
	}
	var progress bytes.Buffer
	buildTo := func(s *storefs.Store, b *builder.Builder, sub *runtime.Substitution, dir, out string) (*Stats, string, error) {
		var log bytes.Buffer
		cfg := Config{Store: s, Builder: b, Toolchain: tc, Bootstrap: bb, Dir: dir,
			Args: []string{"-o", out, "."}, Env: []string{"GOFLAGS="}, Progress: &progress, Log: &log}
		if sub != nil {
			cfg.Substitute = sub.Substitute
		}
		start := time.Now()
		st, err := Run(ctx, cfg)
		if st != nil {
			t.Logf("%s: %s in %s", dir, st.Line(), time.Since(start).Round(time.Millisecond))
		}
		if err != nil {
			return st, log.String(), err
		}
		return st, sum(t, out), nil
	}
	buildIn := func(s *storefs.Store, b *builder.Builder, sub *runtime.Substitution, dir string) (*Stats, string, error) {
		return buildTo(s, b, sub, dir, filepath.Join(t.TempDir(), "go-cli"))
	}
	build := func(dir string) (*Stats, string, error) { return buildIn(s, b, nil, dir) }

	a := filepath.Join(t.TempDir(), "a", "go-cli")
	copyTree(t, filepath.Join(repo(), "examples", "go-cli", "src"), a)
	// The temp pins of this process before any build (the imports' own): a build adds none.
	tempPins := func() map[string]bool {
		pins, err := s.ListPins()
		require.NoError(t, err)
		out := map[string]bool{}
		for _, p := range pins {
			if p.Kind == "temp" {
				out[p.Path] = true
			}
		}
		return out
	}
	before := tempPins()
	noNewTempPin := func() {
		for p := range tempPins() {
			require.True(t, before[p], "a temp pin left by the build: %s", p)
		}
	}
	first, got, err := build(a)
	require.NoError(t, err, got)
	require.Equal(t, plain(a), got, "byte-identical to go build -trimpath")
	require.Greater(t, first.Built, 50, "std, the vendored module, main and the link")
	require.Zero(t, first.Cached)
	t.Logf("cold: %d steps built; %s", first.Built, timing(first))
	require.Contains(t, progress.String(), "steps: ")

	again, got2, err := build(a)
	require.NoError(t, err)
	require.Equal(t, got, got2)
	require.Zero(t, again.Built, "nothing changed: nothing runs")
	require.Equal(t, len(first.Steps), again.Cached)
	t.Logf("warm: %s", timing(again))
	// It ran no tool but the link: the go command took every package from its cache
	// (GOCACHEPROG), answered with the steps this store holds.
	require.Positive(t, again.GoCacheHits)
	for _, st := range again.Steps {
		require.Equal(t, st.Tool != "link", st.GoCache, "%s %s", st.Tool, st.ImportPath)
	}
	// The binary is there already: the link and the main package still count (the go
	// command would skip them for an up-to-date -o file).
	out := filepath.Join(t.TempDir(), "go-cli")
	for range 2 {
		st, got2, err := buildTo(s, b, nil, a, out)
		require.NoError(t, err)
		require.Equal(t, got, got2)
		require.Equal(t, len(first.Steps), st.Cached)
	}
	// What the go command's cache holds is checked on every hit. A body changed on disk
	// is a miss: the go command runs the steps again (all cached), the binary is the same.
	cacheDir := filepath.Join(b.StateDir(), "gocache")
	bodies, err := filepath.Glob(filepath.Join(cacheDir, "o", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, bodies)
	for _, f := range bodies {
		require.NoError(t, os.WriteFile(f, []byte("tampered"), 0o644))
	}
	tampered, got2, err := build(a)
	require.NoError(t, err)
	require.Equal(t, got, got2)
	require.Zero(t, tampered.GoCacheHits, "no tampered body served")
	require.Zero(t, tampered.Built)
	require.Equal(t, len(first.Steps), tampered.Cached)
	// A step the index names whose output is not the builder's cached output of its
	// derivation is a miss too.
	index, err := os.ReadFile(filepath.Join(cacheDir, "index.json"))
	require.NoError(t, err)
	var link Step
	for _, st := range first.Steps {
		if st.Tool == "link" {
			link = st
		}
	}
	wrong := regexp.MustCompile(`"out":"[a-z0-9]+"`).ReplaceAll(index, []byte(`"out":"`+link.Output.String()+`"`))
	require.NotEqual(t, index, wrong)
	require.NoError(t, os.WriteFile(filepath.Join(cacheDir, "index.json"), wrong, 0o644))
	tampered, got2, err = build(a)
	require.NoError(t, err)
	require.Equal(t, got, got2)
	require.Zero(t, tampered.GoCacheHits, "no step taken on the index's word")
	require.Equal(t, len(first.Steps), tampered.Cached)

	// The cache survives a GC once the build is over: every step's output, derivation and
	// inputs are pinned under the build's root, and the build holds no temp pin any more (a
	// process's temp pins are roots only while it lives).
	require.NotEmpty(t, first.Pin)
	require.Equal(t, first.Pin, again.Pin, "one root per module and arguments")
	require.GreaterOrEqual(t, first.Pinned, 2*len(first.Steps), "outputs and derivations at least")
	pins, err := s.ListPins()
	require.NoError(t, err)
	noNewTempPin()
	pinned := map[cid.Cid]bool{}
	for _, p := range pins {
		if p.Prog == first.Pin {
			pinned[p.CID] = true
		}
	}
	for _, st := range first.Steps {
		require.True(t, pinned[st.Output], "%s %s output pinned", st.Tool, st.ImportPath)
		require.True(t, pinned[st.Derivation], "%s %s derivation pinned", st.Tool, st.ImportPath)
	}
	// Blocks nobody pinned go (the step sources' staging left nothing unpinned behind, but
	// a block put here by hand does).
	stray := []byte("not pinned by anyone")
	strayCID, err := s.AddReader(ctx, bytes.NewReader(stray), 0o644, storefs.AddOptions{})
	require.NoError(t, err)
	require.NoError(t, s.ReleaseTempPin(strayCID))
	gc, err := s.GC(ctx)
	require.NoError(t, err)
	t.Logf("GC: %+v", gc)
	require.Zero(t, gc.MissingBlocks)
	has, err := s.HasBlock(strayCID)
	require.NoError(t, err)
	require.False(t, has, "the GC collected what nobody pinned")
	afterGC, got2, err := build(a)
	require.NoError(t, err)
	require.Equal(t, got, got2)
	require.Zero(t, afterGC.Built, "after a GC nothing is rebuilt: the steps were pinned")
	require.Equal(t, len(first.Steps), afterGC.Cached)

	// A second developer: a fresh store whose peer holds the outputs the chain verified
	// compiles nothing; every step is substituted, its blocks fetched over loopback and
	// hash-checked (node/p2p's tests show a lying peer's blocks rejected), and the binary is
	// the same.
	chain := verified{}
	for _, st := range first.Steps {
		chain[st.Derivation] = st.Output
	}
	rtB := newRuntime(t, rtA)
	s2, b2 := rtB.Store(), rtB.Builder()
	_, release, err := rtB.Fetch(ctx, tc, nil) // the toolchain as a second developer gets it: from a peer
	require.NoError(t, err)
	t.Cleanup(release)
	require.NoError(t, b2.RecordRefs(tc, nil))
	_, err = b2.ImportBusybox(ctx, "", "")
	require.NoError(t, err)
	// A peer that answers every want with wrong bytes is connected too: its blocks are
	// rejected, the honest peer's are taken.
	liar, lies := p2ptest.StartLiar(t)
	nodeB, err := rtB.P2P()
	require.NoError(t, err)
	require.NoError(t, nodeB.Connect(ctx, peer.AddrInfo{ID: liar.ID(), Addrs: liar.Addrs()}))
	var subLog bytes.Buffer
	sub := &runtime.Substitution{Chain: chain, Fetch: rtB.Fetch, Timeout: 5 * time.Minute, Log: &subLog}
	defer sub.Release()
	second := filepath.Join(t.TempDir(), "second", "go-cli")
	copyTree(t, a, second)
	subst, got5, err := buildIn(s2, b2, sub, second)
	require.NoError(t, err, "%s\n%s", got5, subLog.String())
	require.Equal(t, got, got5, "substituted: the same binary")
	require.Zero(t, subst.Built, "nothing compiled: %s", subLog.String())
	require.Zero(t, subst.Cached)
	require.Equal(t, len(first.Steps), subst.Substituted)
	require.Equal(t, derivations(first), derivations(subst))
	t.Logf("substituted: %s (the liar was asked %d times)", timing(subst), lies.Load())
	bad, nBlocks, err := s2.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, bad, "every block in the second store hash-checks (%d blocks)", nBlocks)

	// Only the liar to fetch from: the substitute is refused with a clear message (the step
	// would be built instead) and nothing of it, or of the lie, is left in the store.
	rtC := newRuntime(t)
	nodeC, err := rtC.P2P()
	require.NoError(t, err)
	require.NoError(t, nodeC.Connect(ctx, peer.AddrInfo{ID: liar.ID(), Addrs: liar.Addrs()}))
	d, err := b.LoadDerivation(link.Derivation)
	require.NoError(t, err)
	var cLog bytes.Buffer
	asked := lies.Load()
	subC := &runtime.Substitution{Chain: chain, Fetch: rtC.Fetch, Timeout: 5 * time.Second, Log: &cLog}
	_, ok, err := subC.Substitute(ctx, link.Derivation, d)
	subC.Release()
	require.NoError(t, err, "not an error: the step is built locally")
	require.False(t, ok)
	require.Contains(t, cLog.String(), "verified output "+link.Output.String()+" could not be fetched")
	require.Contains(t, cLog.String(), "building locally")
	require.Greater(t, lies.Load(), asked, "the liar was asked: the check proves something")
	has, err = rtC.Store().HasBlock(link.Output)
	require.NoError(t, err)
	require.False(t, has, "no lied-about block stored")
	lie := p2ptest.Lie(link.Output)
	lieCID, err := link.Output.Prefix().Sum(lie[:])
	require.NoError(t, err)
	has, err = rtC.Store().HasBlock(lieCID)
	require.NoError(t, err)
	require.False(t, has, "the liar's bytes not stored")
	bad, _, err = rtC.Store().Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, bad)
	// From now on it is in the local cache.
	local, _, err := buildIn(s2, b2, sub, second)
	require.NoError(t, err)
	require.Equal(t, len(first.Steps), local.Cached)

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
	// The root of this tree now holds the edited build: the three replaced steps' old
	// derivations and outputs were unpinned from it (the first tree's root still holds them).
	require.Equal(t, moved.Pin, edited.Pin)
	require.NotEqual(t, first.Pin, edited.Pin, "another module path: another root")
	require.GreaterOrEqual(t, edited.Unpinned, 6)
	pins, err = s.ListPins()
	require.NoError(t, err)
	for _, p := range pins {
		if p.Prog != edited.Pin {
			continue
		}
		for _, st := range moved.Steps {
			if st.Tool == "link" {
				require.NotEqual(t, st.Output, p.CID, "the old binary is no longer pinned by this tree")
			}
		}
	}

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
	// Nothing half-written: no temp pin left, every block whole, and the failed step's
	// sources are not pinned (the next GC takes them).
	noNewTempPin()
	bad, _, err = s.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, bad)

	_, _, err = build(t.TempDir())
	require.ErrorIs(t, err, ErrNotModule)

	// A vendor tree that disagrees with go.mod: the go command's own message.
	require.NoError(t, os.WriteFile(main, data, 0o644))
	gomod := filepath.Join(other, "go.mod")
	mod, err := os.ReadFile(gomod)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(gomod, bytes.Replace(mod, []byte("go-humanize v1."), []byte("go-humanize v0."), 1), 0o644))
	_, log, err = build(other)
	require.Error(t, err)
	require.Contains(t, log, "inconsistent vendoring")
	require.NoError(t, os.WriteFile(gomod, mod, 0o644))

	// A package that needs cgo: refused, named.
	cgo := filepath.Join(other, "needcgo")
	require.NoError(t, os.MkdirAll(cgo, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(cgo, "c.go"), []byte("package needcgo\n\n// int two(void) { return 2; }\nimport \"C\"\n\nfunc Two() int { return int(C.two()) }\n"), 0o644))
	require.NoError(t, os.WriteFile(main, bytes.Replace(data, []byte("import ("), []byte("import (\n\t_ \"example.com/go-cli/needcgo\""), 1), 0o644))
	_, log, err = build(other)
	require.ErrorIs(t, err, ErrCgo, log)
	require.Contains(t, err.Error(), "example.com/go-cli/needcgo")
}
