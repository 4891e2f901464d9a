package cargobuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/progress"
	"github.com/buildchain/buildchain/node/storefs"
)

// Errors.
var (
	ErrNoCargo      = errors.New("no cargo to plan with")
	ErrCargoVersion = errors.New("planning rustc is not the toolchain's release")
	ErrPlan         = errors.New("malformed cargo build plan")
	ErrUnsupported  = errors.New("unsupported in cargo build")
	ErrUnit         = errors.New("unit failed")
)

// How cargo is asked for the units (Config.Plan).
const (
	// PlanBuildPlan: `cargo build --build-plan` (cargo up to 1.65 or so, with RUSTC_BOOTSTRAP=1):
	// every rustc call as cargo would make it, for the planning rustc's release.
	PlanBuildPlan = "build-plan"
	// PlanUnitGraph: `cargo build --unit-graph`, which newer cargos keep; the rustc calls are
	// written here (unitgraph.go) for the toolchain's rustc.
	PlanUnitGraph = "unit-graph"
)

// RustcRelease is the rustc release of the rust toolchain (node/toolchain/rusttoolchain); the
// planning rustc must be the same, so the plan's target facts are the toolchain's.
const RustcRelease = "1.63.0"

// BuildFunc builds a derivation (or takes its verified output from the network: substituted).
type BuildFunc func(ctx context.Context, drv cid.Cid) (res *builder.Result, substituted bool, err error)

// Config of one build.
type Config struct {
	Store   *storefs.Store
	Builder *builder.Builder
	// Rust, GCC and Bootstrap are the store roots of the rust and gcc toolchains and busybox.
	Rust, GCC, Bootstrap cid.Cid
	// Dir is the directory cargo runs in (inside the package or workspace).
	Dir string
	// Cargo is the cargo that plans (default DebianCargo), chosen by path, never by PATH.
	Cargo string
	// Plan is how cargo is asked for the units: PlanBuildPlan, PlanUnitGraph, or "" (auto:
	// the build plan when the rustc beside Cargo is RustcRelease, else the unit graph).
	Plan string
	// Args are cargo build's arguments (e.g. --release, --offline, -p NAME).
	Args []string
	// Env is added to cargo's environment.
	Env []string
	// Jobs is how many units build at once (default: the number of CPUs).
	Jobs int
	// Build builds one unit's derivation; nil means Builder.Build (no network).
	Build BuildFunc
	// Progress, if set, shows units done / cached / substituted / built.
	Progress io.Writer
}

// Unit is one planned step and what became of it.
type Unit struct {
	Package, Version string
	// Mode is "lib", "bin", "proc-macro", "build-script" (its compile) or "build-script-run".
	Mode        string
	Derivation  cid.Cid
	Output      cid.Cid
	Cached      bool // the builder had the output
	Substituted bool // the output came from the network (verified on chain)
	Duration    time.Duration
}

func (u Unit) String() string { return fmt.Sprintf("%s %s (%s)", u.Package, u.Version, u.Mode) }

// Stats of a build.
type Stats struct {
	Units                      []Unit
	Built, Cached, Substituted int
	// Binaries are the final programs (cargo's links, e.g. target/debug/NAME).
	Binaries []string
	// Warnings are what cargo would show of the workspace's own packages, in plan order:
	// rustc's diagnostics of a unit built here now or before (cargo replays them too; a
	// substituted unit has none), and each `cargo:warning=` of a build script, as
	// "warning: MESSAGE". Registry packages' warnings are not shown, as cargo shows none.
	Warnings []string
}

// Line is the summary line: "units: N done (C cached, S substituted, B built)".
func (st *Stats) Line() string {
	return fmt.Sprintf("units: %d done (%d cached, %d substituted, %d built)", len(st.Units), st.Cached, st.Substituted, st.Built)
}

// Run plans with cargo and builds every unit; on success the artifacts are where cargo puts
// them. On a failed unit it waits for the running ones, starts no more and returns an error
// with the unit's log (host paths put back).
func Run(ctx context.Context, cfg Config) (*Stats, error) {
	if cfg.Jobs <= 0 {
		cfg.Jobs = runtime.NumCPU()
	}
	if cfg.Build == nil {
		cfg.Build = func(ctx context.Context, drv cid.Cid) (*builder.Result, bool, error) {
			res, err := cfg.Builder.Build(ctx, drv, builder.Options{})
			return res, false, err
		}
	}
	p, err := newPlanner(cfg.Cargo, cfg.Dir, cfg.Env)
	if err != nil {
		return nil, err
	}
	rustcErr := p.checkRustc(ctx, RustcRelease)
	switch cfg.Plan {
	case "":
		if rustcErr == nil {
			cfg.Plan = PlanBuildPlan
		} else {
			cfg.Plan = PlanUnitGraph
		}
	case PlanBuildPlan:
		if rustcErr != nil {
			return nil, rustcErr
		}
	case PlanUnitGraph:
	default:
		return nil, fmt.Errorf("%w: plan %q (%s or %s)", ErrUnsupported, cfg.Plan, PlanBuildPlan, PlanUnitGraph)
	}
	ws, err := p.workspace(ctx)
	if err != nil {
		return nil, err
	}
	b := &build{cfg: cfg, ws: ws, sources: map[string]cid.Cid{}}
	var bp *buildPlan
	if cfg.Plan == PlanBuildPlan {
		bp, err = p.plan(ctx, cfg.Args)
	} else {
		var tcfg string
		if tcfg, err = b.targetCfg(ctx); err != nil {
			return nil, err
		}
		bp, err = p.unitGraphPlan(ctx, ws, cfg.Args, tcfg)
	}
	if err != nil {
		return nil, err
	}
	b.plan, b.units = bp, make([]*unit, len(bp.Invocations))
	for i := range bp.Invocations {
		b.units[i] = &unit{inv: &bp.Invocations[i], idx: i}
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	err = b.schedule(ctx)
	st := &Stats{}
	for _, u := range b.units {
		if !u.done {
			continue
		}
		st.Units = append(st.Units, Unit{Package: u.inv.PackageName, Version: u.inv.PackageVersion, Mode: u.mode(),
			Derivation: u.drv, Output: u.out, Cached: u.cached, Substituted: u.substituted, Duration: u.dur})
		switch {
		case u.substituted:
			st.Substituted++
		case u.cached:
			st.Cached++
		default:
			st.Built++
		}
		st.Warnings = append(st.Warnings, u.warnings...)
		if u.mode() == "bin" {
			for l := range u.inv.Links {
				st.Binaries = append(st.Binaries, l)
			}
		}
	}
	sort.Strings(st.Binaries)
	return st, err
}

// build is one Run's state.
type build struct {
	cfg   Config
	ws    *workspace
	plan  *buildPlan
	units []*unit
	mu    sync.Mutex
	// sources: host package directory -> its store path (added once per run).
	sources map[string]cid.Cid
}

type unit struct {
	inv                 *invocation
	idx                 int
	done                bool
	drv, out            cid.Cid
	cached, substituted bool
	dur                 time.Duration
	dirs                *directives // a build script run's instructions
	warnings            []string    // Stats.Warnings
}

func (u *unit) mode() string {
	switch {
	case u.inv.CompileMode == "run-custom-build":
		return "build-script-run"
	case len(u.inv.TargetKind) > 0 && u.inv.TargetKind[0] == "custom-build":
		return "build-script"
	case len(u.inv.TargetKind) > 0:
		return u.inv.TargetKind[0]
	}
	return "unit"
}

func (u *unit) String() string {
	return fmt.Sprintf("%s %s (%s)", u.inv.PackageName, u.inv.PackageVersion, u.mode())
}

// check rejects plans this package cannot translate faithfully.
func (b *build) check() error {
	for _, u := range b.units {
		inv := u.inv
		if inv.Kind != nil && *inv.Kind != "" && *inv.Kind != "Host" {
			return fmt.Errorf("%w: %s is compiled for %s (cross compilation)", ErrUnsupported, u, *inv.Kind)
		}
		switch inv.CompileMode {
		case "build", "run-custom-build":
		default:
			return fmt.Errorf("%w: %s: compile mode %q (only cargo build)", ErrUnsupported, u, inv.CompileMode)
		}
	}
	return nil
}

// schedule builds units as their dependencies complete, Jobs at a time.
func (b *build) schedule(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(b.units)
	bar := progress.New(b.cfg.Progress, "cargo build", int64(n), progress.Options{Label: "units"})
	waiting := make([]int, n) // unfinished deps
	dependents := make([][]int, n)
	for i, u := range b.units {
		waiting[i] = len(u.inv.Deps)
		for _, d := range u.inv.Deps {
			dependents[d] = append(dependents[d], i)
		}
	}
	type result struct {
		i   int
		err error
	}
	ready := []int{}
	for i := range b.units {
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	results := make(chan result)
	running, finished := 0, 0
	var firstErr error
	for finished < n {
		for firstErr == nil && running < b.cfg.Jobs && len(ready) > 0 {
			i := ready[0]
			ready = ready[1:]
			running++
			go func() { results <- result{i, b.buildUnit(ctx, b.units[i])} }()
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
				cancel()
			}
			continue
		}
		finished++
		bar.Set(int64(finished))
		for _, d := range dependents[r.i] {
			if waiting[d]--; waiting[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if firstErr != nil {
		bar.Stop()
		return firstErr
	}
	bar.Finish()
	return nil
}

// buildUnit translates, builds and installs one unit.
func (b *build) buildUnit(ctx context.Context, u *unit) error {
	start := time.Now()
	t, err := b.translate(ctx, u)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	drv, err := b.cfg.Builder.AddDerivation(t.drv)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	res, substituted, err := b.cfg.Build(ctx, drv)
	if err != nil {
		var be *builder.Error
		if errors.As(err, &be) {
			if log, rerr := os.ReadFile(b.cfg.Builder.LogPath(drv)); rerr == nil && len(log) > 0 {
				return fmt.Errorf("%w: %s:\n%s\n%v", ErrUnit, u, strings.TrimRight(t.hostPaths(string(log)), "\n"), err)
			}
		}
		return fmt.Errorf("%w: %s: %v", ErrUnit, u, err)
	}
	if err := b.install(ctx, u, res.Output); err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	warnings := b.warnings(u, t, drv)
	b.mu.Lock()
	u.warnings = warnings
	u.done, u.drv, u.out, u.cached, u.substituted, u.dur = true, drv, res.Output, res.Cached, substituted, time.Since(start)
	b.mu.Unlock()
	return nil
}

// warnings are what cargo shows of a unit (Stats.Warnings): nothing for a package outside the
// workspace, a build script run's `cargo:warning=` lines, a compile's build log.
func (b *build) warnings(u *unit, t *translated, drv cid.Cid) []string {
	if _, local := under(filepath.Clean(b.ws.Root), filepath.Clean(u.inv.Env["CARGO_MANIFEST_DIR"])); !local {
		return nil
	}
	if u.inv.CompileMode == "run-custom-build" {
		var out []string
		for _, w := range u.dirs.warnings {
			out = append(out, "warning: "+w)
		}
		return out
	}
	log, err := os.ReadFile(b.cfg.Builder.LogPath(drv))
	if text := strings.TrimRight(t.hostPaths(string(log)), "\n"); err == nil && text != "" {
		return []string{text}
	}
	return nil
}
