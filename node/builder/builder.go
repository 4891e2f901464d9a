package builder

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"golang.org/x/sys/unix"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
)

// Errors a build can end with, besides the sandbox's (sandbox.ErrExit, ErrTimeout, …).
var (
	ErrMissingDerivation = errors.New("derivation not in the store")
	ErrMissingInput      = errors.New("input not in the store")
	ErrCycle             = errors.New("derivation cycle")
	ErrNoOutput          = errors.New("builder did not create its output")
	ErrWrongSystem       = errors.New("derivation is for another system")
	ErrNondeterministic  = errors.New("build is not reproducible")
	// ErrFixedOutputMismatch: a fixed-output derivation built something else than the CID it
	// declared (a changed or corrupted download). Nothing of it is added to the store.
	ErrFixedOutputMismatch = errors.New("fixed-output derivation produced another output")
)

// HostSystem is the derivation system string of this machine.
func HostSystem() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64-linux"
	case "arm64":
		return "aarch64-linux"
	case "386":
		return "i686-linux"
	case "riscv64":
		return "riscv64-linux"
	}
	return runtime.GOARCH + "-linux"
}

// DefaultTimeout is the wall-clock limit per build the commands use unless told otherwise:
// generous for a cold toolchain build on a laptop; `make selfhost` (scripts/selfhost.sh) raises it.
const DefaultTimeout = time.Hour

// Config of a Builder.
type Config struct {
	// StateDir holds the derivation → output cache, build logs, materialised inputs and
	// kept failed builds ($BUILDCHAIN_HOME/builds).
	StateDir string
	Limits   sandbox.Limits
	// Timeout is the wall-clock limit of one build (0: none). Commands default it to
	// DefaultTimeout and let it be raised (`build --timeout`, `node run --build-timeout`).
	Timeout time.Duration
	// Log receives progress lines and every build log as it is written (e.g. os.Stderr).
	Log io.Writer
	// UseFUSE binds inputs from the store's FUSE mount (Store.MountDir) instead of
	// materialised copies. Nil means: when a FUSE file system is mounted there.
	UseFUSE *bool
	// NixBuilt, when set, is told of every output built in Nix's layout (derivation.NixLayout)
	// with its resolved derivation, so the node's Nix binary cache knows the paths it may
	// serve once verified (docs/NIX.md). An error fails the build.
	NixBuilt func(d *derivation.Derivation, resolved cid.Cid) error
}

// Builder builds derivations. Safe for concurrent use.
type Builder struct {
	store *storefs.Store
	cfg   Config
	// loadDrv reads a derivation; tests replace it to build graphs the store cannot hold.
	loadDrv func(cid.Cid) (*derivation.Derivation, error)
	mu      sync.Mutex // serialises materialising an input
}

// New returns a Builder over store.
func New(store *storefs.Store, cfg Config) (*Builder, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("builder: empty state dir")
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	// Concurrent builds share the progress stream.
	cfg.Log = &lockedWriter{w: cfg.Log}
	for _, d := range []string{"cache", "logs", "inputs", "tmp", "failed"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("builder state dir: %w", err)
		}
	}
	// Builds run as an unprivileged uid that must traverse these directories.
	if err := os.Chmod(cfg.StateDir, 0o755); err != nil {
		return nil, err
	}
	b := &Builder{store: store, cfg: cfg}
	b.sweepTmp()
	b.loadDrv = b.LoadDerivation
	return b, nil
}

// AddDerivation validates d and stores its canonical block; it returns the derivation CID.
func (b *Builder) AddDerivation(d *derivation.Derivation) (cid.Cid, error) {
	data, c, err := d.Block()
	if err != nil {
		return cid.Undef, err
	}
	if err := b.store.PutBlock(c, data); err != nil {
		return cid.Undef, fmt.Errorf("store derivation %s: %w", c, err)
	}
	return c, nil
}

// LoadDerivation reads and checks a derivation block from the store.
func (b *Builder) LoadDerivation(c cid.Cid) (*derivation.Derivation, error) {
	data, err := b.store.GetBlock(c)
	if err != nil {
		if errors.Is(err, storefs.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s (add it with `drv add`)", ErrMissingDerivation, c)
		}
		return nil, fmt.Errorf("load derivation %s: %w", c, err)
	}
	return derivation.DecodeBlock(c, data)
}

// Options of one Build call.
type Options struct {
	// Check rebuilds even when cached and fails with ErrNondeterministic if the new output
	// differs from the cached one (the cached one is kept).
	Check bool
	// KeepFailed keeps the build directory and partial output of a failed build under
	// StateDir/failed and names it in the error.
	KeepFailed bool
	// Substitute, if set, is asked for every derivation of the build (dependencies
	// included) that has no cached output here, once it is resolved: an output it returns
	// (ok) is taken instead of building, e.g. a verified output fetched from peers
	// (node/runtime). It keeps what it returns safe from GC until the build ends. It is
	// not asked for a derivation built with Check.
	Substitute SubstituteFunc
}

// SubstituteFunc is Options.Substitute: given a resolved derivation, an output to use
// instead of building it (ok), or ok=false to build.
type SubstituteFunc = func(ctx context.Context, resolved cid.Cid, d *derivation.Derivation) (out cid.Cid, ok bool, err error)

// Result of a build.
type Result struct {
	Derivation cid.Cid       // as asked for
	Resolved   cid.Cid       // the resolved derivation (inputs are store CIDs only)
	Output     cid.Cid       // output root in the store
	BuildTime  time.Duration // time in the sandbox; 0 when cached
	// OutputTime is the time spent adding the built output to the store and scanning it for
	// the references it makes (0 when cached).
	OutputTime time.Duration
	Cached     bool
	LogPath    string
	// CheckOutput is the rebuilt output's CID when Options.Check was set.
	CheckOutput cid.Cid
	// Substituted: Output came from Options.Substitute, nothing was built.
	Substituted bool
}

// Build builds drv (and, first, every derivation it depends on that is not cached). Inputs are
// temp-pinned only while a build uses them; a new output stays temp-pinned for this process (as
// storefs.AddPath leaves it) until the caller pins it for good and calls ReleaseTempPin.
func (b *Builder) Build(ctx context.Context, drv cid.Cid, opts Options) (*Result, error) {
	return b.build(ctx, drv, opts, map[cid.Cid]bool{}, nil)
}

func (b *Builder) build(ctx context.Context, drv cid.Cid, opts Options, visiting map[cid.Cid]bool, stack []cid.Cid) (*Result, error) {
	stack = append(stack, drv)
	if visiting[drv] {
		names := make([]string, len(stack))
		for i, c := range stack {
			names[i] = c.String()
		}
		return nil, fmt.Errorf("%w: %s", ErrCycle, strings.Join(names, " -> "))
	}
	visiting[drv] = true
	defer delete(visiting, drv)

	d, err := b.loadDrv(drv)
	if err != nil {
		return nil, err
	}
	outputs := map[string]cid.Cid{}
	for _, ref := range d.Refs() {
		if ref.Output != "out" { // Validate allows only single-output derivations
			return nil, fmt.Errorf("input %s of %s: derivations have only the output \"out\", not %q", ref.Drv, d.Name, ref.Output)
		}
		// Dependencies are never re-checked: --check is about this derivation.
		r, err := b.build(ctx, ref.Drv, Options{KeepFailed: opts.KeepFailed, Substitute: opts.Substitute}, visiting, stack)
		if err != nil {
			return nil, fmt.Errorf("input %s of %s: %w", ref.Drv, d.Name, err)
		}
		outputs[ref.String()] = r.Output
	}
	resolved, err := d.Resolve(outputs)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", drv, err)
	}
	rc, err := b.AddDerivation(resolved)
	if err != nil {
		return nil, err
	}
	res := &Result{Derivation: drv, Resolved: rc, LogPath: b.logPath(rc)}
	cached, haveCached := b.cachedOutput(rc)
	if !haveCached && resolved.Fixed() && b.haveWhole(resolved.OutputHash) {
		// As in Nix, a fixed-output derivation whose output is already in the store (fetched by
		// another derivation, added by hand, substituted) is not built: its CID is its identity,
		// so no network access is needed to know what it would fetch. --check still fetches.
		if err := b.setCache(rc, resolved.OutputHash); err != nil {
			return nil, err
		}
		cached, haveCached = resolved.OutputHash, true
	}
	if haveCached && !opts.Check {
		res.Output, res.Cached = cached, true
		fmt.Fprintf(b.cfg.Log, "%s: cached %s\n", d.Name, cached)
		return res, nil
	}
	if opts.Substitute != nil && !opts.Check {
		out, ok, err := opts.Substitute(ctx, rc, resolved)
		if err != nil {
			return nil, fmt.Errorf("substitute %s: %w", d.Name, err)
		}
		if ok {
			res.Output, res.Substituted = out, true
			return res, nil
		}
	}
	out, times, err := b.run(ctx, resolved, rc, opts)
	if err != nil {
		return nil, err
	}
	res.BuildTime, res.OutputTime = times.sandbox, times.output
	if opts.Check {
		res.CheckOutput = out
		if !haveCached {
			// Nothing to compare against yet: the first build becomes the cached one, then check.
			if err := b.setCache(rc, out); err != nil {
				return nil, err
			}
			cached = out
			if out, _, err = b.run(ctx, resolved, rc, opts); err != nil {
				return nil, err
			}
			res.CheckOutput = out
		}
		res.Output = cached
		if !out.Equals(cached) {
			return res, fmt.Errorf("%w: %s (%s) built %s before and %s now", ErrNondeterministic, d.Name, rc, cached, out)
		}
		return res, nil
	}
	if err := b.setCache(rc, out); err != nil {
		return nil, err
	}
	res.Output = out
	return res, nil
}

func (b *Builder) cachePath(rc cid.Cid) string {
	return filepath.Join(b.cfg.StateDir, "cache", rc.String())
}

func (b *Builder) logPath(rc cid.Cid) string {
	return filepath.Join(b.cfg.StateDir, "logs", rc.String()+".log")
}

// cachedOutput returns the cached output of a resolved derivation if its root is still in the
// store (a GC may have removed it; then it is rebuilt).
func (b *Builder) cachedOutput(rc cid.Cid) (cid.Cid, bool) {
	raw, err := os.ReadFile(b.cachePath(rc))
	if err != nil {
		return cid.Undef, false
	}
	c, err := cid.Decode(strings.TrimSpace(string(raw)))
	if err != nil {
		return cid.Undef, false
	}
	if ok, err := b.store.HasBlock(c); err != nil || !ok {
		return cid.Undef, false
	}
	return c, true
}

// haveWhole tells whether every block of store path c (and of what it refers to) is in the
// store: a fixed-output derivation's output may only be taken as built when it is complete.
func (b *Builder) haveWhole(c cid.Cid) bool {
	all, err := b.store.Closure(c)
	if err != nil {
		return false
	}
	for _, x := range all { // Closure takes a raw leaf's presence on trust
		if ok, err := b.store.HasBlock(x); err != nil || !ok {
			return false
		}
	}
	return true
}

// CachedOutput is the output a previous build of the resolved derivation rc produced.
func (b *Builder) CachedOutput(rc cid.Cid) (cid.Cid, bool) { return b.cachedOutput(rc) }

// RecordOutput makes out the cached output of the resolved derivation rc without building it:
// for an output obtained another way that is as good as a build (a substitute the chain
// verified, fetched with every block hash-checked). out must be in the store.
func (b *Builder) RecordOutput(rc, out cid.Cid) error {
	if ok, err := b.store.HasBlock(out); err != nil || !ok {
		return fmt.Errorf("record output %s of %s: not in the store (%v)", out, rc, err)
	}
	return b.setCache(rc, out)
}

func (b *Builder) setCache(rc, out cid.Cid) error {
	return atomicfile.WriteFile(b.cachePath(rc), []byte(out.String()+"\n"), 0o644)
}

func randHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runTimes: where a build's time went (Result.BuildTime, Result.OutputTime).
type runTimes struct{ sandbox, output time.Duration }

// run builds a resolved derivation once and adds its output to the store.
func (b *Builder) run(ctx context.Context, d *derivation.Derivation, rc cid.Cid, opts Options) (cid.Cid, runTimes, error) {
	if d.System != HostSystem() {
		return cid.Undef, runTimes{}, fmt.Errorf("%w: %s is for %s, this machine builds %s", ErrWrongSystem, d.Name, d.System, HostSystem())
	}
	// Start the sandbox init now (if no spare is ready), in parallel with preparing the inputs
	// and directories; a cached build never pays for it.
	sandbox.Prewarm()
	inputs, err := b.closure(ctx, d)
	if err != nil {
		return cid.Undef, runTimes{}, fmt.Errorf("%s: %w", d.Name, err)
	}
	// Inputs may not be collected while the build reads them.
	if err := b.pinInputs(inputs); err != nil {
		return cid.Undef, runTimes{}, err
	}
	defer b.unpinInputs(inputs)
	work, err := b.tempDir(d.Name)
	if err != nil {
		return cid.Undef, runTimes{}, err
	}
	keep := false
	defer func() {
		if !keep {
			removeAll(work)
		}
	}()
	storeView := filepath.Join(work, "store") // writable /ipfs/store: the builder creates $out in it
	buildDir := filepath.Join(work, "build")
	for _, p := range []string{work, storeView, buildDir} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return cid.Undef, runTimes{}, err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return cid.Undef, runTimes{}, err
		}
	}
	placeholder := string(storefs.Placeholder(rc.String()))
	outPath := derivation.StorePrefix + placeholder
	outName := placeholder // the output's name in storeView
	mounts := []sandbox.Mount{{Source: storeView, Target: strings.TrimSuffix(derivation.StorePrefix, "/"), Writable: true}}
	env := map[string]string{}
	for k, v := range d.Env {
		env[k] = v
	}
	env["out"] = outPath
	if d.Nix != nil {
		// Nix's layout (nix.go): inputs at their Nix paths, the output at its Nix path.
		outPath, outName = d.Nix.Out, path.Base(d.Nix.Out)
		if mounts, env, err = b.nixLayout(ctx, d, storeView, buildDir); err != nil {
			return cid.Undef, runTimes{}, fmt.Errorf("%s: %w", d.Name, err)
		}
	} else {
		for _, in := range inputs {
			src, err := b.inputSource(ctx, in)
			if err != nil {
				return cid.Undef, runTimes{}, err
			}
			mounts = append(mounts, sandbox.Mount{Source: src, Target: derivation.StorePrefix + in.String()})
		}
	}

	logFile, err := os.Create(b.logPath(rc))
	if err != nil {
		return cid.Undef, runTimes{}, fmt.Errorf("build log: %w", err)
	}
	defer logFile.Close()
	fmt.Fprintf(b.cfg.Log, "building %s (%s)\n", d.Name, rc)
	// On the shared stream every line says which build wrote it (builds run concurrently);
	// the log file has the builder's output as is.
	stream := &prefixWriter{w: b.cfg.Log, prefix: d.Name + "> "}
	defer stream.Flush()
	res, err := sandbox.Run(ctx, sandbox.Config{
		Builder:      d.Builder,
		Args:         d.Args,
		Env:          env,
		Mounts:       mounts,
		BuildHostDir: buildDir,
		Limits:       b.cfg.Limits,
		Timeout:      b.cfg.Timeout,
		Log:          io.MultiWriter(logFile, stream),
		// Only a build whose output is fixed in advance may fetch: what it fetches is checked
		// below before anything reaches the store (Nix's fixed-output derivations).
		HostNetwork: d.Fixed(),
		ExactEnv:    d.Nix != nil,
	})
	outHost := filepath.Join(storeView, outName)
	fail := func(err error) (cid.Cid, runTimes, error) {
		msg := fmt.Sprintf("build of %s (%s) failed: %v (log: %s)", d.Name, rc, err, logFile.Name())
		if opts.KeepFailed {
			kept := filepath.Join(b.cfg.StateDir, "failed", filepath.Base(work))
			if rerr := os.Rename(work, kept); rerr == nil {
				keep = true
				msg += fmt.Sprintf("; kept build dir %s and partial output %s", filepath.Join(kept, "build"), filepath.Join(kept, "store", outName))
			}
		}
		return cid.Undef, runTimes{}, &Error{Err: err, Msg: msg}
	}
	if err != nil {
		return fail(err)
	}
	if _, err := os.Lstat(outHost); err != nil {
		return fail(fmt.Errorf("%w: $out (%s) does not exist after the builder exited 0", ErrNoOutput, outPath))
	}
	if err := canonicalise(outHost); err != nil {
		return fail(err)
	}
	addOpts := storefs.AddOptions{PreserveMode: true, SelfRef: []byte(placeholder)}
	if d.Nix != nil {
		addOpts.SelfRef = nil // a Nix output knows its final path: nothing to rewrite
	}
	if d.Fixed() {
		hashOpts := addOpts
		hashOpts.OnlyHash = true
		got, err := b.store.AddPath(ctx, outHost, hashOpts)
		if err != nil {
			return fail(fmt.Errorf("hash output: %w", err))
		}
		if !got.Equals(d.OutputHash) {
			return fail(fmt.Errorf("%w: expected %s, got %s", ErrFixedOutputMismatch, d.OutputHash, got))
		}
	}
	tOut := time.Now()
	out, err := b.store.AddPath(ctx, outHost, addOpts)
	if err != nil {
		return fail(fmt.Errorf("add output: %w", err))
	}
	if d.Nix != nil {
		err = b.recordNixRefs(out, outHost, d)
	} else {
		err = b.recordRefs(out, outHost, inputs)
	}
	if err != nil {
		return cid.Undef, runTimes{}, err
	}
	if d.Nix != nil && b.cfg.NixBuilt != nil {
		if err := b.cfg.NixBuilt(d, rc); err != nil {
			return cid.Undef, runTimes{}, fmt.Errorf("%s: record Nix path %s: %w", d.Name, d.Nix.Out, err)
		}
	}
	times := runTimes{sandbox: res.Duration, output: time.Since(tOut)}
	fmt.Fprintf(b.cfg.Log, "built %s -> %s in %d ms\n", d.Name, out, res.Duration.Milliseconds())
	return out, times, nil
}

// Error is a failed build: Msg for people, Err for errors.Is.
type Error struct {
	Err error
	Msg string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// removeAll deletes a build work dir; the output may have been made read-only by the builder.
func removeAll(dir string) {
	_ = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

// closure returns the inputs plus every store path they reference (recorded when they were
// built), so a build sees exactly the runtime closure of its inputs and nothing else.
func (b *Builder) closure(ctx context.Context, d *derivation.Derivation) ([]cid.Cid, error) {
	roots := make([]cid.Cid, len(d.Inputs))
	for i, in := range d.Inputs {
		roots[i] = in.CID
	}
	return b.RuntimeClosure(ctx, roots, func(c, _ cid.Cid) error {
		ok, err := b.store.HasBlock(c)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s (fetch or add it first)", ErrMissingInput, c)
		}
		return nil
	})
}

// RuntimeClosure returns roots and every store path they reference at run time, transitively
// (recorded when built here, else found by scanning: References), depth first, each once. need
// is called for each store path before its references are read, with the path that referenced
// it (cid.Undef for a root): it makes the path local (node/runtime's Fetch fetches it) or fails
// (a build's missing input). The one walk over runtime references, for builds and fetches.
func (b *Builder) RuntimeClosure(ctx context.Context, roots []cid.Cid, need func(c, referrer cid.Cid) error) ([]cid.Cid, error) {
	var out []cid.Cid
	seen := map[cid.Cid]bool{}
	var visit func(c, referrer cid.Cid) error
	visit = func(c, referrer cid.Cid) error {
		if seen[c] {
			return nil
		}
		seen[c] = true
		if err := need(c, referrer); err != nil {
			return err
		}
		out = append(out, c)
		refs, err := b.refs(ctx, c)
		if err != nil {
			return fmt.Errorf("references of %s: %w", c, err)
		}
		for _, r := range refs {
			if err := visit(r, c); err != nil {
				return fmt.Errorf("%w (referenced by %s)", err, c)
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := visit(r, cid.Undef); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (b *Builder) refs(ctx context.Context, c cid.Cid) ([]cid.Cid, error) {
	refs, ok, err := b.store.RecordedReferences(c)
	if err != nil || ok {
		return refs, err
	}
	return b.scanRefs(ctx, c)
}

var storePathRe = regexp.MustCompile(`/ipfs/store/(baf[a-z2-7]{56})`)

// scanRefs finds the store paths a store path that was not built here (fetched, added by hand)
// refers to, by scanning its files and symlinks through the store for /ipfs/store/{cid}, and
// records them. Not knowing its inputs, it keeps every store path it finds: a build then fails
// clearly on a missing one rather than later on a missing file.
func (b *Builder) scanRefs(ctx context.Context, c cid.Cid) ([]cid.Cid, error) {
	found := map[cid.Cid]bool{}
	var order []cid.Cid
	note := func(data []byte) {
		for _, m := range storePathRe.FindAllSubmatch(data, -1) {
			if r, err := cid.Decode(string(m[1])); err == nil && !r.Equals(c) && !found[r] {
				found[r] = true
				order = append(order, r)
			}
		}
	}
	var walk func(p string, e storefs.Entry) error
	walk = func(p string, e storefs.Entry) error {
		switch e.Kind {
		case storefs.KindSymlink:
			note([]byte(e.Target))
		case storefs.KindFile:
			f, err := b.store.OpenFile(ctx, c, p)
			if err != nil {
				return err
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return err
			}
			note(data)
		case storefs.KindDir:
			ents, err := b.store.List(ctx, c, p)
			if err != nil {
				return err
			}
			for _, ch := range ents {
				if err := walk(path.Join(p, ch.Name), ch); err != nil {
					return err
				}
			}
		}
		return nil
	}
	root, err := b.store.Stat(ctx, c, "")
	if err != nil {
		return nil, fmt.Errorf("scan references of %s: %w", c, err)
	}
	if err := walk("", root); err != nil {
		return nil, fmt.Errorf("scan references of %s: %w", c, err)
	}
	if err := b.store.SetReferences(c, order); err != nil {
		return nil, err
	}
	return order, nil
}

// recordRefs scans the output for the store paths it could reference (those it was built
// with), as Nix scans for store path hashes, and records the ones it does reference.
func (b *Builder) recordRefs(out cid.Cid, dir string, candidates []cid.Cid) error {
	patterns := make([]string, len(candidates))
	for i, c := range candidates {
		patterns[i] = c.String()
	}
	sc := newRefScanner(patterns) // one pass whatever the number of candidates (refscan.go)
	if err := scanOutput(dir, sc.scan); err != nil {
		return err
	}
	var refs []cid.Cid
	for i, c := range candidates { // candidates order is deterministic
		if sc.found(i) && !c.Equals(out) {
			refs = append(refs, c)
		}
	}
	return b.store.SetReferences(out, refs)
}

// scanOutput calls match with the bytes of every regular file and the target of every symlink
// under dir: what a reference scan (ours by CID, Nix's by store-path hash) searches.
func scanOutput(dir string, match func(data []byte)) error {
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var data []byte
		switch {
		case de.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			data = []byte(t)
		case de.Type().IsRegular():
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			return nil
		}
		match(data)
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan output references: %w", err)
	}
	return nil
}

// References lists the store paths a store path refers to (recorded when built here, else
// found by scanning it).
func (b *Builder) References(ctx context.Context, c cid.Cid) ([]cid.Cid, error) {
	return b.refs(ctx, c)
}

const fuseSuperMagic = 0x65735546

func (b *Builder) useFUSE() bool {
	if b.cfg.UseFUSE != nil {
		return *b.cfg.UseFUSE
	}
	var st unix.Statfs_t
	return unix.Statfs(b.store.MountDir(), &st) == nil && st.Type == fuseSuperMagic
}

// inputSource is the host path bound read-only at /ipfs/store/{c}.
func (b *Builder) inputSource(ctx context.Context, c cid.Cid) (string, error) {
	if b.useFUSE() {
		return filepath.Join(b.store.MountDir(), c.String()), nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	dst := filepath.Join(b.cfg.StateDir, "inputs", c.String())
	if _, err := os.Lstat(dst); err == nil {
		return dst, nil
	}
	tmp := filepath.Join(b.cfg.StateDir, "tmp", fmt.Sprintf("%d-export-%s", os.Getpid(), randHex()))
	if err := b.store.Export(ctx, c, tmp); err != nil {
		removeAll(tmp)
		return "", fmt.Errorf("materialise input %s: %w", c, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		removeAll(tmp)
		return "", err
	}
	return dst, nil
}

// pinInputs temp-pins a build's inputs for as long as it runs. Temp pins
// are counted by the store, so concurrent builds sharing an input (and
// whoever else holds it) keep it pinned until the last one releases it.
func (b *Builder) pinInputs(inputs []cid.Cid) error {
	for i, in := range inputs {
		if err := b.store.TempPin(in); err != nil {
			b.unpinInputs(inputs[:i])
			return err
		}
	}
	return nil
}

func (b *Builder) unpinInputs(inputs []cid.Cid) {
	for _, in := range inputs {
		_ = b.store.ReleaseTempPin(in)
	}
}

// canonicalise gives the output the permissions of a store path, as Nix does: files 0444, or
// 0555 when the builder made them executable, directories 0555; no setuid, setgid or sticky
// bits (a store path must never become a way to gain privileges on the host) and nothing that
// depends on the builder's umask. Special files (FIFOs, sockets) are refused.
func canonicalise(root string) error {
	return filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		t := de.Type()
		switch {
		case t&fs.ModeSymlink != 0:
			return nil
		case t.IsDir():
			return os.Chmod(p, 0o555) // we are root: the walk still reads and changes it
		case t.IsRegular():
			info, err := de.Info()
			if err != nil {
				return err
			}
			mode := os.FileMode(0o444)
			if info.Mode().Perm()&0o111 != 0 {
				mode = 0o555
			}
			return os.Chmod(p, mode)
		default:
			return fmt.Errorf("output contains %s, which is a %s: only files, directories and symlinks may be outputs", p, t.Type())
		}
	})
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// tempDir makes a work directory under StateDir/tmp named after this process, so that what a
// crashed process left behind can be told from the work of a running one.
func (b *Builder) tempDir(name string) (string, error) {
	return os.MkdirTemp(filepath.Join(b.cfg.StateDir, "tmp"), fmt.Sprintf("%d-%s-", os.Getpid(), name))
}

// sweepTmp removes work directories of processes that are gone.
func (b *Builder) sweepTmp() {
	dir := filepath.Join(b.cfg.StateDir, "tmp")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		pidStr, _, _ := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if unix.Kill(pid, 0) == unix.ESRCH {
			removeAll(filepath.Join(dir, e.Name()))
		}
	}
}

// prefixWriter writes whole lines, each prefixed, to w (a lockedWriter, so lines of concurrent
// builds do not mix).
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	var out []byte
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		out = append(out, p.prefix...)
		out = append(out, p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
	}
	if len(out) > 0 {
		if _, err := p.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Flush writes a last line that had no newline.
func (p *prefixWriter) Flush() {
	if len(p.buf) > 0 {
		_, _ = p.w.Write(append(append([]byte(p.prefix), p.buf...), '\n'))
		p.buf = nil
	}
}
