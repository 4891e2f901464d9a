package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/storefs"
)

//go:embed forwarder/main.go
var forwarderSource []byte

// Errors.
var (
	ErrNotModule   = errors.New("not inside a Go module")
	ErrNoToolchain = errors.New("no go toolchain imported")
	ErrCgo         = errors.New("cgo is not supported (CGO_ENABLED=0 builds only)")
	ErrStep        = errors.New("unsupported tool invocation")
)

// Config of one build.
type Config struct {
	Store   *storefs.Store
	Builder *builder.Builder
	// Toolchain is the go toolchain's store root.
	Toolchain cid.Cid
	// Bootstrap is the busybox store root (the shell that starts each tool).
	Bootstrap cid.Cid
	// Dir is the directory the go command runs in (inside the module).
	Dir string
	// Args are the go build arguments after "build" (flags and packages); -trimpath and
	// -toolexec are added.
	Args []string
	// Env is added to the go command's environment (e.g. GOFLAGS); nil means none.
	Env []string
	// Progress, if set, receives a line after each step.
	Progress io.Writer
	// Log receives the go command's own output (errors); default os.Stderr.
	Log io.Writer
	// Substitute, if set, is asked for the output of a step the local cache lacks before it
	// is built: the network cache (runtime.Substitution.Substitute: a VALID claim on chain,
	// the output's closure fetched from peers with every block hash-checked). ok=false
	// builds the step.
	Substitute func(ctx context.Context, drv cid.Cid, d *derivation.Derivation) (out cid.Cid, ok bool, err error)
	// Jobs is how many steps build in a sandbox at once; 0 means one per core. Steps that are
	// cached or substituted do not count: the go command runs up to 4× as many at once.
	Jobs int
	// Pin names the GC root that keeps this build's cache in the store: the derivation,
	// inputs and output of every step are pinned under pins/per-user/{PinUser}/{Pin}
	// (node/storefs), and what an earlier build pinned there that this one no longer uses is
	// unpinned (after a successful build only), so a GC keeps what the next build of these
	// packages needs and collects older versions. Empty: "gobuild-" and a hash of the module's
	// go.mod path and Args (but -o). "-": nothing is pinned (the outputs stay temp-pinned for this
	// process only).
	Pin string
	// PinUser owns the pins; empty: storefs.CurrentUser().
	PinUser string
}

// Step is one tool invocation turned into a derivation.
type Step struct {
	Tool       string // compile, asm, link
	ImportPath string
	Derivation cid.Cid
	Output     cid.Cid
	Cached     bool // the local cache had it
	// Substituted: the chain had a VALID claim for it and its output came from peers.
	Substituted bool
	// GoCache: the go command took the step's package from its cache (answered from this
	// store's steps, gocache.go) and ran no tool for it. Such a step is also Cached.
	GoCache  bool
	Duration time.Duration
	Times    Times
	uses     []cid.Cid // its inputs (pinned with it)
	// objdir is the go command's object directory of the package a compile or asm step
	// belongs to, buildID a compile's action ID (of its -buildid): how the archive the go
	// command puts in its cache is traced to its steps (gocache.go).
	objdir, buildID string
}

// Times is where a step's time goes (one step), or the sum over a build's steps.
type Times struct {
	Plan  time.Duration // reading its arguments and hashing its files into a derivation
	Add   time.Duration // adding its sources, archives and derivation to the store
	Fetch time.Duration // asking the chain and fetching a substitute from peers
	Wait  time.Duration // waiting for a sandbox slot (Config.Jobs)
	// Setup is the builder's work before the sandbox starts: the inputs' closure, their
	// mounts, the build directory.
	Setup time.Duration
	// Compile and Link are the time in the sandbox (its start and the tool: compile or asm,
	// link).
	Compile, Link time.Duration
	Output        time.Duration // adding the built output to the store, scanning its references
	Copy          time.Duration // writing the outputs back for the go command
}

// Sandbox is the time in the sandbox, compile and link together.
func (t Times) Sandbox() time.Duration { return t.Compile + t.Link }

func (t *Times) add(o Times) {
	t.Plan += o.Plan
	t.Add += o.Add
	t.Fetch += o.Fetch
	t.Wait += o.Wait
	t.Setup += o.Setup
	t.Compile += o.Compile
	t.Link += o.Link
	t.Output += o.Output
	t.Copy += o.Copy
}

// Stats of a build.
type Stats struct {
	Steps                      []Step
	Built, Cached, Substituted int
	// GoCacheHits is how many packages the go command took from its cache (their steps are
	// Cached and GoCache).
	GoCacheHits int
	// Times is the sum over the steps (they overlap: steps run in parallel).
	Times Times
	// Wall is the whole build; Setup the part before the go command starts (the toolchain,
	// the forwarder, the cache index), Planning from then until the go command runs its first
	// tool step (loading the packages, planning the actions, and the cache hits it meets
	// first; the whole build but its link when nothing changed), Finish the part after it
	// exits (pins, the cache index, the binary moved to -o).
	Wall, Setup, Planning, Finish time.Duration
	// Pin is the GC root the steps are pinned under (Config.Pin), Pinned how many store paths
	// it holds and Unpinned how many an earlier build left there that this one dropped.
	Pin              string
	Pinned, Unpinned int
}

// Run builds and returns what each step did.
func Run(ctx context.Context, cfg Config) (*Stats, error) {
	start := time.Now()
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	// Steps report from their own goroutines, and the go command's output is copied from
	// another when Log is not a file: the writers (often one, e.g. a command's stderr) need
	// not be safe for concurrent use.
	var outMu sync.Mutex
	cfg.Log = lockedWriter{&outMu, cfg.Log}
	if cfg.Progress != nil {
		cfg.Progress = lockedWriter{&outMu, cfg.Progress}
	}
	goroot, err := cfg.Builder.InputPath(ctx, cfg.Toolchain)
	if err != nil {
		return nil, fmt.Errorf("go toolchain %s: %w", cfg.Toolchain, err)
	}
	goBin, err := hostGo(forwarderDir(cfg.Builder), cfg.Toolchain, goroot)
	if err != nil {
		return nil, err
	}
	work, err := cfg.Builder.TempDir("gobuild")
	if err != nil {
		return nil, err
	}
	defer builder.RemoveAll(work)
	env := append(os.Environ(), cfg.Env...)
	env = append(env, "GOTOOLCHAIN=local", "GOCACHE="+filepath.Join(work, "gocache"), "GOROOT="+goroot, "GOENV=off",
		"GOTELEMETRY=off", "TMPDIR="+work, "GOCACHEPROG=")
	for _, kv := range env {
		if kv == "CGO_ENABLED=1" {
			return nil, fmt.Errorf("%w: unset CGO_ENABLED=1", ErrCgo)
		}
	}
	env = append(env, "CGO_ENABLED=0")
	gomod, err := command(ctx, cfg.Dir, env, goBin, "env", "GOMOD")
	if err != nil {
		return nil, err
	}
	if gomod = strings.TrimSpace(gomod); gomod == "" || gomod == os.DevNull {
		return nil, fmt.Errorf("%w: %s (no go.mod here or above)", ErrNotModule, cfg.Dir)
	}
	fwd, err := forwarder(ctx, forwarderDir(cfg.Builder), cfg.Toolchain, goBin, env)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(work, "toolexec.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	jobs := cfg.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	cacheSock := filepath.Join(work, "gocache.sock")
	cacheLn, err := net.Listen("unix", cacheSock)
	if err != nil {
		return nil, err
	}
	defer cacheLn.Close()
	cache, err := openGoCache(filepath.Join(cfg.Builder.StateDir(), "gocache"))
	if err != nil {
		return nil, fmt.Errorf("the go command's cache: %w", err)
	}
	s := &server{cfg: cfg, goroot: goroot, files: map[fileKey]cid.Cid{}, added: map[cid.Cid]bool{}, stats: &Stats{},
		slots: make(chan struct{}, jobs), keep: map[cid.Cid]bool{}, cache: cache,
		pending: map[string]string{}, objSteps: map[string][]Step{}}
	var wg sync.WaitGroup
	accept := func(ln net.Listener, serve func(context.Context, net.Conn)) {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(ctx, conn)
			}()
		}
	}
	go accept(ln, s.serve)
	go accept(cacheLn, s.serveCache)
	// The binary goes to a new file in the work directory, then to -o: the go command skips
	// the main package's compile and the link when the -o file is already up to date (its
	// build ID matches), so a build whose binary is there would leave those steps out of
	// Stats and --publish would never claim them. The link's output name (in its derivation)
	// is the same.
	buildArgs := cfg.Args
	dest, rest, hasOut := splitOutput(cfg.Args)
	var tmpOut string
	if hasOut {
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(cfg.Dir, dest)
		}
		if fi, err := os.Stat(dest); strings.HasSuffix(dest, "/") || (err == nil && fi.IsDir()) {
			hasOut = false // a directory: the go command names the binaries
		} else {
			if err := os.MkdirAll(filepath.Join(work, "out"), 0o755); err != nil {
				return nil, err
			}
			tmpOut = filepath.Join(work, "out", filepath.Base(dest))
			buildArgs = append([]string{"-o", tmpOut}, rest...)
		}
	}
	args := []string{"build", "-trimpath", "-toolexec", fwd}
	if !hasFlag(cfg.Args, "p") {
		// Cached and substituted steps wait on the store and the network, not the CPU: the go
		// command may run more at once than there are sandbox slots.
		args = append(args, "-p", strconv.Itoa(4*jobs))
	}
	args = append(args, buildArgs...)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = cfg.Dir
	cmd.Env = append(env, "BUILDCHAIN_GOBUILD_SOCK="+sock, "BUILDCHAIN_GOBUILD_CACHESOCK="+cacheSock,
		"GOCACHEPROG="+fwd+" -cacheprog")
	cmd.Stdout, cmd.Stderr = cfg.Log, cfg.Log
	goStart := time.Now()
	s.stats.Setup = goStart.Sub(start)
	runErr := cmd.Run()
	goEnd := time.Now()
	defer func() {
		s.stats.Wall = time.Since(start)
		s.stats.Finish = time.Since(goEnd)
		s.mu.Lock()
		if !s.first.IsZero() {
			s.stats.Planning = s.first.Sub(goStart)
		}
		s.mu.Unlock()
	}()
	ln.Close()
	cacheLn.Close()
	wg.Wait()
	if err := cache.save(); err != nil && runErr == nil {
		runErr = fmt.Errorf("save the go command's cache index: %w", err)
	}
	if runErr == nil && hasOut {
		runErr = moveOut(tmpOut, dest)
	}
	sort.Slice(s.stats.Steps, func(i, j int) bool {
		return s.stats.Steps[i].Derivation.String() < s.stats.Steps[j].Derivation.String()
	})
	if err := s.pin(pinName(cfg.Pin, gomod, cfg.Args), runErr == nil); err != nil {
		return s.stats, err
	}
	if runErr != nil {
		if pkgs := needCgo(ctx, cfg.Dir, env, goBin, cfg.Args); len(pkgs) > 0 {
			return s.stats, fmt.Errorf("%w: %s cannot be built without cgo", ErrCgo, strings.Join(pkgs, ", "))
		}
		return s.stats, fmt.Errorf("go build: %w", runErr)
	}
	return s.stats, nil
}

// lockedWriter is w with every Write under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// needCgo explains a failed build: the packages of the build that use cgo and have no Go
// files without it (each one fails as "build constraints exclude all Go files"). Packages
// with a pure-Go fallback (net, os/user) build with CGO_ENABLED=0 as with go build. It runs
// only after a failure, so a build that works pays nothing for it.
func needCgo(ctx context.Context, dir string, env []string, goBin string, buildArgs []string) []string {
	args := withoutOutput(buildArgs) // go list does not take -o
	list := func(cgo, format string) map[string]bool {
		out, err := command(ctx, dir, append(env, "CGO_ENABLED="+cgo), goBin,
			append([]string{"list", "-e", "-deps", "-f", format}, args...)...)
		if err != nil {
			return nil
		}
		set := map[string]bool{}
		for _, l := range strings.Fields(out) {
			set[l] = true
		}
		return set
	}
	withCgo := list("1", "{{if .CgoFiles}}{{.ImportPath}}{{end}}")
	broken := list("0", "{{if .Error}}{{.ImportPath}}{{end}}")
	var pkgs []string
	for p := range withCgo {
		if broken[p] {
			pkgs = append(pkgs, p)
		}
	}
	sort.Strings(pkgs)
	return pkgs
}

// withoutOutput is go build arguments minus -o and its value.
func withoutOutput(buildArgs []string) []string {
	_, args, _ := splitOutput(buildArgs)
	return args
}

// splitOutput is the value of -o in go build arguments (the last one) and the arguments
// without it.
func splitOutput(buildArgs []string) (out string, args []string, ok bool) {
	for i := 0; i < len(buildArgs); i++ {
		a := buildArgs[i]
		if a == "-o" || a == "--o" {
			if i+1 < len(buildArgs) {
				out, ok = buildArgs[i+1], true
			}
			i++
			continue
		}
		if v, found := strings.CutPrefix(strings.TrimPrefix(a, "-"), "-o="); found && strings.HasPrefix(a, "-") {
			out, ok = v, true
			continue
		}
		args = append(args, a)
	}
	return out, args, ok
}

// moveOut moves the binary the go command wrote in the work directory to dest: a rename, or,
// across file systems, an atomic copy (internal/atomicfile) with its mode.
func moveOut(tmp, dest string) error {
	if err := os.Rename(tmp, dest); err == nil {
		return nil
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := atomicfile.NewWriter(dest, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, f); err != nil {
		return err
	}
	return w.Commit()
}

// Line is the progress line: steps done / cached / substituted / built.
func (st *Stats) Line() string {
	return fmt.Sprintf("steps: %d done (%d cached, %d substituted, %d built)", len(st.Steps), st.Cached, st.Substituted, st.Built)
}

// TimeLine says where the build's time went: the wall-clock parts of the build, then each
// part of the steps' time summed over the steps (which overlap: up to Config.Jobs build at
// once, more wait on the store or the network).
func (st *Stats) TimeLine() string {
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t := st.Times
	return fmt.Sprintf("time: %s wall (setup %s, go command until its first step %s, then until it exits %s, finish %s); "+
		"summed over steps: plan %s, store add %s, chain+fetch %s, slot wait %s, sandbox setup %s, "+
		"sandbox compile %s, sandbox link %s, output add+scan %s, copy out %s",
		r(st.Wall), r(st.Setup), r(st.Planning), r(max(st.Wall-st.Setup-st.Planning-st.Finish, 0)), r(st.Finish),
		r(t.Plan), r(t.Add), r(t.Fetch), r(t.Wait), r(t.Setup), r(t.Compile), r(t.Link), r(t.Output), r(t.Copy))
}

// hasFlag reports whether go build arguments set -name (before the packages).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return false
		}
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func command(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// forwarderDir is where compiled forwarders are kept: the user's cache directory
// ($XDG_CACHE_HOME/buildchain/gobuild, else ~/.cache/...), shared by every store of the user,
// else the builder's state dir.
func forwarderDir(b *builder.Builder) string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "buildchain", "gobuild")
	}
	return filepath.Join(b.StateDir(), "gobuild")
}

// hostGo is the go command this process runs: a copy of the toolchain's bin/go (tc's, at
// goroot) kept in dir beside the forwarders, run with GOROOT=goroot. The toolchain itself may
// be on the store's FUSE view (builder.InputPath), and exec of a binary on a FUSE mount served
// by the exec'ing process can deadlock: the kernel reads the binary while the parent thread is
// held in vfork, and the FUSE server's goroutines may wait for that thread (a GC's stop the
// world; golang/go#11155). Only the exec is affected: the go command, once started, reads
// GOROOT and runs the tools as a process of its own. Copied once per toolchain, atomically.
func hostGo(dir string, tc cid.Cid, goroot string) (string, error) {
	bin := filepath.Join(dir, "go-"+tc.String())
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o100 != 0 {
		return bin, nil
	}
	data, err := os.ReadFile(filepath.Join(goroot, "bin", "go"))
	if err != nil {
		return "", fmt.Errorf("go toolchain %s: %w", tc, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(bin, data, 0o755); err != nil {
		return "", err
	}
	return bin, nil
}

// forwarder returns the forwarder (forwarder/main.go) compiled by the toolchain tc, whose go
// command is goBin: kept in dir under a name made of tc and a hash of the source, so it is
// compiled once per toolchain and forwarder version, not once per store or build (a compile
// with an empty GOCACHE takes seconds). The binary is written atomically (internal/
// atomicfile): concurrent builds race harmlessly and a crash never leaves a torn file.
func forwarder(ctx context.Context, dir string, tc cid.Cid, goBin string, env []string) (string, error) {
	h := sha256.Sum256(forwarderSource)
	bin := filepath.Join(dir, "toolexec-"+tc.String()+"-"+hex.EncodeToString(h[:6]))
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o100 != 0 {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, "forwarder-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "main.go"), forwarderSource, 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(tmp, "toolexec")
	// Its own GOCACHE: the build's must stay empty, or the std packages the forwarder shares
	// with the program would be taken from there instead of going through the steps.
	fenv := append(env, "GOFLAGS=", "GO111MODULE=off", "GOCACHE="+filepath.Join(tmp, "gocache"))
	if _, err := command(ctx, tmp, fenv, goBin, "build", "-trimpath", "-o", out, "main.go"); err != nil {
		return "", fmt.Errorf("build the toolexec forwarder: %w", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(bin, data, 0o755); err != nil {
		return "", err
	}
	return bin, nil
}

// request and response are the forwarder's protocol (forwarder/main.go has its own copy: it
// is a separate std-only program).
type request struct {
	Args []string `json:"args"`
	Dir  string   `json:"dir"`
	Env  []string `json:"env"`
}

type response struct {
	Code   int    `json:"code"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

type fileKey struct {
	path        string
	size, mtime int64
	ino         uint64
}

type server struct {
	cfg    Config
	goroot string
	mu     sync.Mutex
	files  map[fileKey]cid.Cid // archives' CIDs as store paths, by file version
	added  map[cid.Cid]bool    // archives added to the store by this build
	stats  *Stats
	slots  chan struct{}    // sandbox builds running at once
	keep   map[cid.Cid]bool // what the steps done so far use: pinned at the end
	temps  []cid.Cid        // temp pins this build took (store adds, built outputs)
	cache  *goCache         // the go command's cache (gocache.go)
	// pending: a compile's action ID -> its object directory; objSteps: the steps run for
	// an object directory whose archive the go command has not put in its cache yet.
	pending  map[string]string
	objSteps map[string][]Step
	first    time.Time // when the go command asked for its first tool step
}

// asked notes the go command's first request (Stats.Planning).
func (s *server) asked() {
	s.mu.Lock()
	if s.first.IsZero() {
		s.first = time.Now()
	}
	s.mu.Unlock()
}

// pinName is the GC root of a build (Config.Pin).
func pinName(pin, gomod string, args []string) string {
	if pin != "" {
		return pin
	}
	// Where the binary goes does not change what the steps are.
	h := sha256.Sum256([]byte(gomod + "\x00" + strings.Join(withoutOutput(args), "\x00")))
	return "gobuild-" + hex.EncodeToString(h[:8])
}

// pin pins what the steps used under the build's GC root and, if the build is complete,
// unpins what an earlier build left there; then it drops the build's temp pins. An input
// that is not in the store (a cached step whose sources a GC collected before pins existed)
// is skipped: the step's output and derivation are what the next build needs.
func (s *server) pin(name string, complete bool) error {
	st := s.cfg.Store
	defer func() {
		for _, c := range s.temps {
			_ = st.ReleaseTempPin(c)
		}
		s.temps = nil
	}()
	if name == "-" {
		return nil
	}
	user := s.cfg.PinUser
	if user == "" {
		user = storefs.CurrentUser()
	}
	s.stats.Pin = name
	for c := range s.keep {
		if err := st.Pin(user, name, c); err != nil {
			if errors.Is(err, storefs.ErrNotFound) {
				continue
			}
			return fmt.Errorf("pin the build's steps: %w", err)
		}
		s.stats.Pinned++
	}
	if !complete {
		return nil
	}
	pins, err := st.ListPins()
	if err != nil {
		return err
	}
	for _, p := range pins {
		if p.Kind == "user" && p.User == user && p.Prog == name && !s.keep[p.CID] {
			if err := st.Unpin(user, name, p.CID); err != nil {
				return err
			}
			s.stats.Unpinned++
		}
	}
	return nil
}

func (s *server) serve(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	var req request
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		return
	}
	resp := s.handle(ctx, req)
	_ = json.NewEncoder(conn).Encode(resp)
}

func (s *server) handle(ctx context.Context, req request) response {
	s.asked()
	start := time.Now()
	st, log, err := s.step(ctx, req)
	if err != nil {
		msg := err.Error()
		if log != "" {
			msg = log
		}
		return response{Code: 1, Stderr: msg + "\n"}
	}
	st.Duration = time.Since(start)
	s.done(st)
	if st.objdir != "" {
		s.mu.Lock()
		s.objSteps[st.objdir] = append(s.objSteps[st.objdir], *st)
		if st.buildID != "" {
			s.pending[st.buildID] = st.objdir
		}
		s.mu.Unlock()
	}
	return response{}
}

// done counts a step of the build (run by the go command, or a cache hit's), keeps what it
// uses for the pins and shows the progress line.
func (s *server) done(st *Step) {
	s.mu.Lock()
	for _, c := range append(st.uses, st.Derivation, st.Output) {
		s.keep[c] = true
	}
	s.stats.Steps = append(s.stats.Steps, *st)
	switch {
	case st.Cached:
		s.stats.Cached++
	case st.Substituted:
		s.stats.Substituted++
	default:
		s.stats.Built++
	}
	s.stats.Times.add(st.Times)
	line := s.stats.Line()
	s.mu.Unlock()
	if s.cfg.Progress != nil {
		fmt.Fprintf(s.cfg.Progress, "\r%s  %-40.40s", line, st.Tool+" "+st.ImportPath)
	}
}
