package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
	"github.com/buildchain/buildchain/node/storefs"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

type env struct {
	t     *testing.T
	store *storefs.Store
	b     *Builder
	bb    cid.Cid
	log   *bytes.Buffer
	home  string
}

func examplesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples")
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds run in user/mount/pid namespaces with cgroup limits")
	}
	return newEnvIn(t, t.TempDir())
}

// newEnvIn is newEnv with its store and build state in home.
func newEnvIn(t *testing.T, home string) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds run in user/mount/pid namespaces with cgroup limits")
	}
	if _, err := os.Stat(DefaultBusybox); err != nil {
		t.Skip("needs Debian busybox-static at /bin/busybox")
	}
	require.NoError(t, os.Chmod(home, 0o755))
	s, err := storefs.Open(filepath.Join(home, "ipfs"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	log := &bytes.Buffer{}
	no := false
	lim := sandbox.Limits{Pids: 256, MemoryBytes: 512 << 20}
	if sandbox.LimitsAvailable(lim) != nil {
		lim = sandbox.Limits{} // the limit tests themselves skip with the reason
	}
	b, err := New(s, Config{StateDir: filepath.Join(home, "builds"), Log: log, Timeout: time.Minute, UseFUSE: &no, Limits: lim})
	require.NoError(t, err)
	bb, err := b.ImportBusybox(context.Background(), "", "root")
	require.NoError(t, err)
	return &env{t: t, store: s, b: b, bb: bb, log: log, home: home}
}

// add reads an example (or inline JSON) template, fills it and stores the derivation.
func (e *env) add(data string, vars map[string]string) cid.Cid {
	e.t.Helper()
	all := map[string]string{"bootstrap": e.bb.String(), "system": HostSystem()}
	for k, v := range vars {
		all[k] = v
	}
	filled, err := Template([]byte(data), all)
	require.NoError(e.t, err)
	d, err := derivation.Parse(filled)
	require.NoError(e.t, err)
	c, err := e.b.AddDerivation(d)
	require.NoError(e.t, err)
	return c
}

func (e *env) example(name string, vars map[string]string) cid.Cid {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir(), name))
	require.NoError(e.t, err)
	return e.add(string(data), vars)
}

func (e *env) cat(root cid.Cid, p string) string {
	e.t.Helper()
	var buf bytes.Buffer
	require.NoError(e.t, e.store.Cat(context.Background(), root, p, &buf))
	return buf.String()
}

func TestBootstrapDeterministic(t *testing.T) {
	e := newEnv(t)
	again, err := e.b.ImportBusybox(context.Background(), "", "")
	require.NoError(t, err)
	require.Equal(t, e.bb, again)
	got, err := e.b.Bootstrap()
	require.NoError(t, err)
	require.Equal(t, e.bb, got)
	ents, err := e.store.List(context.Background(), e.bb, "bin")
	require.NoError(t, err)
	require.Greater(t, len(ents), 100)
	_, err = e.b.ImportBusybox(context.Background(), "/etc/hostname", "")
	require.Error(t, err)
}

func TestHelloReproducible(t *testing.T) {
	e := newEnv(t)
	drv := e.example("hello/hello.json", nil)
	r1, err := e.b.Build(context.Background(), drv, Options{})
	require.NoError(t, err, e.log.String())
	require.False(t, r1.Cached)
	require.Greater(t, r1.BuildTime, time.Duration(0))
	require.Contains(t, e.cat(r1.Output, "bin/hello"), "echo Hello, world!")
	require.Contains(t, e.log.String(), "\nhello> built hello\n", "stream lines are prefixed with the build's name")
	logData, err := os.ReadFile(r1.LogPath)
	require.NoError(t, err)
	require.Contains(t, string(logData), "built hello")
	require.NotContains(t, string(logData), "hello> ")

	// Cached: instant, same output.
	r2, err := e.b.Build(context.Background(), drv, Options{})
	require.NoError(t, err)
	require.True(t, r2.Cached)
	require.Equal(t, r1.Output, r2.Output)

	// From scratch in a second, independent home: same CID.
	e2 := newEnv(t)
	require.Equal(t, e.bb, e2.bb)
	drv2 := e2.example("hello/hello.json", nil)
	require.Equal(t, drv, drv2)
	r3, err := e2.b.Build(context.Background(), drv2, Options{})
	require.NoError(t, err, e2.log.String())
	require.False(t, r3.Cached)
	require.Equal(t, r1.Output, r3.Output)

	// --check on a deterministic build passes.
	r4, err := e.b.Build(context.Background(), drv, Options{Check: true})
	require.NoError(t, err)
	require.Equal(t, r1.Output, r4.CheckOutput)
	// The bootstrap tools are a runtime reference of hello (its shebang).
	refs, err := e.b.References(context.Background(), r1.Output)
	require.NoError(t, err)
	require.Equal(t, []cid.Cid{e.bb}, refs)
}

func TestMultiStep(t *testing.T) {
	e := newEnv(t)
	lib := e.example("multi-step/lib.json", nil)
	app := e.example("multi-step/app.json", map[string]string{"lib": lib.String()})
	r, err := e.b.Build(context.Background(), app, Options{})
	require.NoError(t, err, e.log.String())
	require.NotEqual(t, app, r.Resolved, "the resolved derivation differs from the one with drv inputs")
	require.Equal(t, "HELLO FROM STEP ONE\n", e.cat(r.Output, "share/loud"))
	// The lib was built first and is cached now.
	libRes, err := e.b.Build(context.Background(), lib, Options{})
	require.NoError(t, err)
	require.True(t, libRes.Cached)
	require.Contains(t, e.cat(r.Output, "bin/app"), "/ipfs/store/"+libRes.Output.String()+"/bin/greet")
	// The resolved derivation is in the store, canonical, with store CIDs only.
	rd, err := e.b.LoadDerivation(r.Resolved)
	require.NoError(t, err)
	require.True(t, rd.Resolved())
	require.Equal(t, "/ipfs/store/"+libRes.Output.String(), rd.Env["lib"])
	refs, err := e.b.References(context.Background(), r.Output)
	require.NoError(t, err)
	require.ElementsMatch(t, []cid.Cid{e.bb, libRes.Output}, refs)

	// Twice from scratch: same CIDs.
	e2 := newEnv(t)
	lib2 := e2.example("multi-step/lib.json", nil)
	app2 := e2.example("multi-step/app.json", map[string]string{"lib": lib2.String()})
	r2, err := e2.b.Build(context.Background(), app2, Options{})
	require.NoError(t, err, e2.log.String())
	require.Equal(t, r.Output, r2.Output)
}

func TestNondeterministicCheck(t *testing.T) {
	e := newEnv(t)
	drv := e.example("nondeterministic/nondeterministic.json", nil)
	r1, err := e.b.Build(context.Background(), drv, Options{})
	require.NoError(t, err, e.log.String())
	e2 := newEnv(t)
	r2, err := e2.b.Build(context.Background(), e2.example("nondeterministic/nondeterministic.json", nil), Options{})
	require.NoError(t, err, e2.log.String())
	require.NotEqual(t, r1.Output, r2.Output)

	r3, err := e.b.Build(context.Background(), drv, Options{Check: true})
	require.ErrorIs(t, err, ErrNondeterministic)
	require.Contains(t, err.Error(), r1.Output.String())
	require.Equal(t, r1.Output, r3.Output, "the cached output stays")
	require.NotEqual(t, r1.Output, r3.CheckOutput)
	again, err := e.b.Build(context.Background(), drv, Options{})
	require.NoError(t, err)
	require.Equal(t, r1.Output, again.Output)
}

// selfRefRun builds examples/self-ref's run-it (which runs the self-referencing output, built
// first as its input) and returns both results and what run-it must have written: the
// self-referencing output found itself and its data at /ipfs/store/{its cid}.
func (e *env) selfRefRun() (run, self *Result, want string) {
	e.t.Helper()
	selfDrv := e.example("self-ref/self-ref.json", nil)
	runDrv := e.example("self-ref/run-it.json", map[string]string{"selfref": selfDrv.String()})
	run, err := e.b.Build(context.Background(), runDrv, Options{})
	require.NoError(e.t, err, e.log.String())
	self, err = e.b.Build(context.Background(), selfDrv, Options{})
	require.NoError(e.t, err)
	require.True(e.t, self.Cached)
	return run, self, "I am /ipfs/store/" + self.Output.String() + "/bin/whereami\ndata next to me\ndata next to me\n"
}

func TestSelfRefMaterialised(t *testing.T) {
	e := newEnv(t)
	r, _, want := e.selfRefRun()
	require.Equal(t, want, e.cat(r.Output, ""))
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	before, err := e.store.AllBlocks()
	require.NoError(t, err)
	countOutputs := func() int {
		ents, _ := os.ReadDir(filepath.Join(e.b.cfg.StateDir, "cache"))
		return len(ents)
	}
	tmpl := `{"name":"bad","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh","args":["-c","@script@"],"env":{},"inputs":["@bootstrap@"@extra@],"outputs":["out"]}`

	// Missing input CID.
	missing := "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	drv := e.add(tmpl, map[string]string{"script": "echo x > $out", "extra": `,"` + missing + `"`})
	_, err = e.b.Build(ctx, drv, Options{})
	require.ErrorIs(t, err, ErrMissingInput)
	require.Contains(t, err.Error(), missing)

	// Missing derivation.
	absent, err := derivation.CIDOf([]byte(`{"never":"added"}`))
	require.NoError(t, err)
	_, err = e.b.Build(ctx, absent, Options{})
	require.ErrorIs(t, err, ErrMissingDerivation)

	// Non-zero exit.
	drv = e.add(tmpl, map[string]string{"script": "echo partial > $out; echo failing >&2; exit 3", "extra": ""})
	_, err = e.b.Build(ctx, drv, Options{})
	require.ErrorIs(t, err, sandbox.ErrExit)
	require.Contains(t, err.Error(), "exited with code 3")
	require.Contains(t, err.Error(), "log: ")
	require.Contains(t, e.log.String(), "failing")

	// Output never created.
	drv = e.add(tmpl, map[string]string{"script": "echo no output here", "extra": ""})
	_, err = e.b.Build(ctx, drv, Options{})
	require.ErrorIs(t, err, ErrNoOutput)

	// --keep-failed keeps the build dir and partial output for inspection.
	drv = e.add(tmpl, map[string]string{"script": "echo partial > $out; echo scratch > /build/f; exit 4", "extra": ""})
	_, err = e.b.Build(ctx, drv, Options{KeepFailed: true})
	require.ErrorIs(t, err, sandbox.ErrExit)
	require.Contains(t, err.Error(), "kept build dir")
	i := strings.Index(err.Error(), "kept build dir ")
	kept := strings.Fields(err.Error()[i+len("kept build dir "):])[0]
	data, rerr := os.ReadFile(filepath.Join(kept, "f"))
	require.NoError(t, rerr)
	require.Equal(t, "scratch\n", string(data))

	// Nothing of any failed build reached the store: only the derivation blocks were added.
	after, err := e.store.AllBlocks()
	require.NoError(t, err)
	for _, c := range after {
		if !containsCID(before, c) {
			d, err := e.b.LoadDerivation(c)
			require.NoError(t, err, "unexpected non-derivation block %s in the store", c)
			require.Equal(t, "bad", d.Name)
		}
	}
	require.Equal(t, 0, countOutputs())
}

func containsCID(list []cid.Cid, c cid.Cid) bool {
	for _, x := range list {
		if x.Equals(c) {
			return true
		}
	}
	return false
}

func TestCycle(t *testing.T) {
	e := newEnv(t)
	// Content addressing makes a cycle impossible to store (a block would have to contain its
	// own hash), so the graph walk is checked with a loader that serves one anyway.
	a, err := derivation.CIDOf([]byte("a"))
	require.NoError(t, err)
	bcid, err := derivation.CIDOf([]byte("b"))
	require.NoError(t, err)
	mk := func(name string, dep cid.Cid) *derivation.Derivation {
		return &derivation.Derivation{Name: name, System: HostSystem(), Outputs: []string{"out"},
			Builder: "/ipfs/store/" + e.bb.String() + "/bin/sh", Inputs: []derivation.Input{{CID: e.bb}, {Drv: dep, Output: "out"}}}
	}
	graph := map[cid.Cid]*derivation.Derivation{a: mk("a", bcid), bcid: mk("b", a)}
	e.b.loadDrv = func(c cid.Cid) (*derivation.Derivation, error) {
		if d, ok := graph[c]; ok {
			return d, nil
		}
		return nil, errors.New("unknown")
	}
	_, err = e.b.Build(context.Background(), a, Options{})
	require.ErrorIs(t, err, ErrCycle)
	require.Contains(t, err.Error(), a.String()+" -> "+bcid.String()+" -> "+a.String())
}

func TestTemplate(t *testing.T) {
	out, err := Template([]byte(`a @x@ b @x@`), map[string]string{"x": "1"})
	require.NoError(t, err)
	require.Equal(t, "a 1 b 1", string(out))
	_, err = Template([]byte(`@x@ @yy@`), map[string]string{"x": "1"})
	require.ErrorContains(t, err, "@yy@")
}

// Inputs are temp-pinned only while a build uses them: afterwards GC may take an input that
// nothing else keeps, and the cached output of a collected build is rebuilt, not trusted.
func TestInputsUnpinnedAfterBuild(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "src"), []byte("source text\n"), 0o644))
	src, err := e.store.AddPath(ctx, dir, storefs.AddOptions{PreserveMode: true})
	require.NoError(t, err)
	require.NoError(t, e.store.ReleaseTempPin(src))
	tmpl := `{"name":"copy","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh",
		"args":["-c","/ipfs/store/@bootstrap@/bin/cp /ipfs/store/@src@/src $out"],"env":{},"inputs":["@bootstrap@","@src@"],"outputs":["out"]}`
	drv := e.add(tmpl, map[string]string{"src": src.String()})
	r, err := e.b.Build(ctx, drv, Options{})
	require.NoError(t, err, e.log.String())
	require.Equal(t, "source text\n", e.cat(r.Output, ""))
	require.NoError(t, e.store.ReleaseTempPin(r.Output))
	// The derivation is not pinned: a pinned one keeps its inputs (they
	// are in its closure, node/closure), which would hide a leaked temp pin.
	_, err = e.store.GC(ctx)
	require.NoError(t, err)
	ok, err := e.store.HasBlock(src)
	require.NoError(t, err)
	require.False(t, ok, "the input stayed pinned after the build")
	ok, err = e.store.HasBlock(e.bb)
	require.NoError(t, err)
	require.True(t, ok, "bootstrap tools are pinned by `bootstrap`")
	// The output was collected too: the cache entry is not trusted, the build needs its input.
	require.True(t, drv.Equals(e.add(tmpl, map[string]string{"src": src.String()})))
	_, err = e.b.Build(ctx, drv, Options{})
	require.ErrorIs(t, err, ErrMissingInput)
}

// Outputs get store permissions whatever the builder did: no setuid bits, no umask, no FIFOs.
func TestOutputCanonicalised(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tmpl := `{"name":"modes","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh","args":["-c","PATH=/ipfs/store/@bootstrap@/bin\n@script@"],"env":{},"inputs":["@bootstrap@"],"outputs":["out"]}`
	drv := e.add(tmpl, map[string]string{"script": "umask 077; mkdir -p $out/bin; echo x > $out/data; echo y > $out/bin/tool; chmod 4755 $out/bin/tool; chmod 700 $out/bin"})
	r, err := e.b.Build(ctx, drv, Options{})
	require.NoError(t, err, e.log.String())
	st, err := e.store.Stat(ctx, r.Output, "bin/tool")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o555), st.Mode.Perm())
	require.Zero(t, st.Mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
	st, err = e.store.Stat(ctx, r.Output, "data")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o444), st.Mode.Perm())
	st, err = e.store.Stat(ctx, r.Output, "bin")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o555), st.Mode.Perm())

	drv = e.add(tmpl, map[string]string{"script": "mkdir $out; mkfifo $out/pipe"})
	_, err = e.b.Build(ctx, drv, Options{})
	require.ErrorContains(t, err, "only files, directories and symlinks")
}

// Builds run concurrently (a node builds several assignments at once): shared inputs stay
// pinned until the last build using them ends, and every build gets its own sandbox.
func TestConcurrentBuilds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// The import left the bootstrap temp-pinned (AddPath's rule); drop that
	// pin so that only the builds' own pins of it are counted below.
	require.NoError(t, e.store.ReleaseTempPin(e.bb))
	var drvs []cid.Cid
	for i := 0; i < 4; i++ {
		drvs = append(drvs, e.add(`{"name":"par-@i@","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh","args":["-c","PATH=/ipfs/store/@bootstrap@/bin\nsleep 0.2; echo @i@ > $out"],"env":{},"inputs":["@bootstrap@"],"outputs":["out"]}`,
			map[string]string{"i": fmt.Sprint(i)}))
	}
	errs := make(chan error, len(drvs))
	outs := make([]cid.Cid, len(drvs))
	for i, d := range drvs {
		go func() {
			r, err := e.b.Build(ctx, d, Options{})
			if err == nil {
				outs[i] = r.Output
			}
			errs <- err
		}()
	}
	for range drvs {
		require.NoError(t, <-errs)
	}
	for i, o := range outs {
		require.Equal(t, fmt.Sprintf("%d\n", i), e.cat(o, ""))
	}
	// The shared input's temp pin went with the last build using it; the
	// outputs stay temp-pinned until the caller pins them (AddPath's rule).
	pins, err := e.store.ListPins()
	require.NoError(t, err)
	for _, p := range pins {
		require.False(t, p.Kind == "temp" && p.CID.Equals(e.bb), "input pin leaked: %+v", p)
	}
}

func TestSweepTmp(t *testing.T) {
	e := newEnv(t)
	dead := filepath.Join(e.b.cfg.StateDir, "tmp", fmt.Sprintf("%d-hello-123", 1<<22-3))
	live, err := e.b.tempDir("live")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dead, "store"), 0o755))
	_, err = New(e.store, Config{StateDir: e.b.cfg.StateDir})
	require.NoError(t, err)
	_, err = os.Stat(dead)
	require.True(t, os.IsNotExist(err))
	_, err = os.Stat(live)
	require.NoError(t, err)
}

// A store path that was not built here (fetched from another node, added by hand) has no
// recorded references: they are found by scanning it, so a build that uses it sees its runtime
// closure too, and a missing part of that closure is a clear error.
func TestScannedReferences(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lib := e.example("multi-step/lib.json", nil)
	libRes, err := e.b.Build(ctx, lib, Options{})
	require.NoError(t, err, e.log.String())
	// "Fetched": a tree that calls lib's script at run time, with no refs record here.
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	script := "#!/ipfs/store/" + e.bb.String() + "/bin/sh\n/ipfs/store/" + libRes.Output.String() + "/bin/greet\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "tool"), []byte(script), 0o555))
	fetched, err := e.store.AddPath(ctx, dir, storefs.AddOptions{PreserveMode: true})
	require.NoError(t, err)
	refs, err := e.b.References(ctx, fetched)
	require.NoError(t, err)
	require.ElementsMatch(t, []cid.Cid{e.bb, libRes.Output}, refs)
	// Only "fetched" is an input, yet lib (its runtime dependency) is visible to the build.
	drv := e.add(`{"name":"use-fetched","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh","args":["-c","/ipfs/store/@f@/bin/tool > $out"],"env":{},"inputs":["@bootstrap@","@f@"],"outputs":["out"]}`,
		map[string]string{"f": fetched.String()})
	r, err := e.b.Build(ctx, drv, Options{})
	require.NoError(t, err, e.log.String())
	require.Equal(t, "hello from step one\n", e.cat(r.Output, ""))

	// A reference to a store path that is not here fails clearly.
	missing := "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "tool"), []byte("/ipfs/store/"+missing+"/bin/x\n"), 0o555))
	broken, err := e.store.AddPath(ctx, dir, storefs.AddOptions{PreserveMode: true})
	require.NoError(t, err)
	drv = e.add(`{"name":"use-broken","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh","args":["-c","true"],"env":{},"inputs":["@bootstrap@","@f@"],"outputs":["out"]}`,
		map[string]string{"f": broken.String()})
	_, err = e.b.Build(ctx, drv, Options{})
	require.ErrorIs(t, err, ErrMissingInput)
	require.Contains(t, err.Error(), missing)
	require.Contains(t, err.Error(), "referenced by "+broken.String())
}
