package cargobuild

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
)

// The unit graph (`cargo build --unit-graph -Z unstable-options`, which newer cargos keep
// while they dropped --build-plan) lists the units and their dependencies but not the rustc
// calls: this file writes each unit's invocation the way cargo 1.65 does for the same unit
// (the build plan's shape), so both plans go through the same translation (unit.go).

// unitGraph is cargo's unit graph (version 1).
type unitGraph struct {
	Version int         `json:"version"`
	Units   []graphUnit `json:"units"`
	Roots   []int       `json:"roots"`
}

type graphUnit struct {
	PkgID  string `json:"pkg_id"`
	Target struct {
		Kind       []string `json:"kind"`
		CrateTypes []string `json:"crate_types"`
		Name       string   `json:"name"`
		SrcPath    string   `json:"src_path"`
		Edition    string   `json:"edition"`
	} `json:"target"`
	Profile      graphProfile    `json:"profile"`
	Platform     *string         `json:"platform"`
	Mode         string          `json:"mode"`
	Features     []string        `json:"features"`
	IsStd        bool            `json:"is_std"`
	Dependencies []graphUnitDep  `json:"dependencies"`
	raw          json.RawMessage // the profile as cargo printed it (part of the unit's hash)
}

type graphUnitDep struct {
	Index           int    `json:"index"`
	ExternCrateName string `json:"extern_crate_name"`
}

type graphProfile struct {
	Name           string          `json:"name"`
	OptLevel       string          `json:"opt_level"`
	LTO            string          `json:"lto"`
	CodegenUnits   *int            `json:"codegen_units"`
	Debuginfo      json.RawMessage `json:"debuginfo"`
	DebugAssertion bool            `json:"debug_assertions"`
	OverflowChecks bool            `json:"overflow_checks"`
	Rpath          bool            `json:"rpath"`
	Panic          string          `json:"panic"`
	Strip          json.RawMessage `json:"strip"`
}

// metaPackage is a package of `cargo metadata` (with dependencies).
type metaPackage struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Authors      []string `json:"authors"`
	Description  *string  `json:"description"`
	Homepage     *string  `json:"homepage"`
	Repository   *string  `json:"repository"`
	License      *string  `json:"license"`
	LicenseFile  *string  `json:"license_file"`
	RustVersion  *string  `json:"rust_version"`
	ManifestPath string   `json:"manifest_path"`
	Links        *string  `json:"links"`
	Source       *string  `json:"source"`
}

type metadata struct {
	Packages []metaPackage `json:"packages"`
}

// hostTriple is the one target this package builds for (no cross compilation).
const hostTriple = "x86_64-unknown-linux-gnu"

// unitGraphPlan asks cargo for the unit graph and cargo metadata for the packages, and writes
// the build plan cargo 1.65 would have printed. targetCfg is the toolchain rustc's
// `--print cfg` (the build scripts' CARGO_CFG_*).
func (p *planner) unitGraphPlan(ctx context.Context, ws *workspace, args []string, targetCfg string) (*buildPlan, error) {
	var g unitGraph
	out, err := p.buildJSON(ctx, "--unit-graph", args, &g)
	if err != nil {
		return nil, err
	}
	if g.Version != 1 {
		return nil, fmt.Errorf("%w: unit graph version %d (only 1)", ErrPlan, g.Version)
	}
	// The raw profiles, for the units' hashes.
	var raw struct {
		Units []struct {
			Profile json.RawMessage `json:"profile"`
		} `json:"units"`
	}
	if err := json.Unmarshal(out, &raw); err != nil || len(raw.Units) != len(g.Units) {
		return nil, fmt.Errorf("%w: cargo unit graph profiles: %v", ErrPlan, err)
	}
	for i := range g.Units {
		g.Units[i].raw = raw.Units[i].Profile
	}
	mout, err := p.run(ctx, "metadata", "--format-version", "1", "--offline")
	if err != nil {
		return nil, err
	}
	var md metadata
	if err := json.Unmarshal(mout, &md); err != nil {
		return nil, fmt.Errorf("cargo metadata: %w", err)
	}
	return graphToPlan(&g, &md, ws, targetCfg)
}

// graphToPlan writes the invocations of the units, dependencies first.
func graphToPlan(g *unitGraph, md *metadata, ws *workspace, targetCfg string) (*buildPlan, error) {
	pkgs := map[string]*metaPackage{}
	for i := range md.Packages {
		pkgs[md.Packages[i].ID] = &md.Packages[i]
	}
	// The primary packages (CARGO_PRIMARY_PACKAGE) are those cargo was asked to build: the
	// packages of the graph's roots (the root package, -p, or every member of a virtual
	// workspace), not every workspace member.
	primary := map[string]bool{}
	for _, r := range g.Roots {
		if r < 0 || r >= len(g.Units) {
			return nil, fmt.Errorf("%w: unit graph root %d of %d units", ErrPlan, r, len(g.Units))
		}
		primary[g.Units[r].PkgID] = true
	}
	order, err := topoOrder(g)
	if err != nil {
		return nil, err
	}
	pos := make([]int, len(g.Units)) // graph index -> plan index
	for k, i := range order {
		pos[i] = k
	}
	w := &graphWriter{g: g, pkgs: pkgs, primary: primary, ws: ws, cfgEnv: cargoCfgEnv(targetCfg),
		hashes: make([]string, len(g.Units)), invs: make([]*invocation, len(g.Units))}
	bp := &buildPlan{}
	for _, i := range order {
		inv, err := w.invocation(i)
		if err != nil {
			return nil, err
		}
		for _, d := range g.Units[i].Dependencies {
			inv.Deps = append(inv.Deps, pos[d.Index])
		}
		sort.Ints(inv.Deps)
		bp.Invocations = append(bp.Invocations, *inv)
	}
	return bp, nil
}

// topoOrder lists the units dependencies first (cargo's index order breaks ties).
func topoOrder(g *unitGraph) ([]int, error) {
	state := make([]int8, len(g.Units)) // 0 new, 1 visiting, 2 done
	var order []int
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("%w: unit graph has a cycle through unit %d", ErrPlan, i)
		case 2:
			return nil
		}
		state[i] = 1
		for _, d := range g.Units[i].Dependencies {
			if d.Index < 0 || d.Index >= len(g.Units) {
				return fmt.Errorf("%w: unit %d depends on unit %d of %d", ErrPlan, i, d.Index, len(g.Units))
			}
			if err := visit(d.Index); err != nil {
				return err
			}
		}
		state[i] = 2
		order = append(order, i)
		return nil
	}
	for i := range g.Units {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return order, nil
}

type graphWriter struct {
	g       *unitGraph
	pkgs    map[string]*metaPackage
	primary map[string]bool // package IDs
	ws      *workspace
	cfgEnv  map[string]string
	hashes  []string
	invs    []*invocation // written so far, by graph index
}

// hash is the unit's metadata hash (-C metadata, the file names' suffix): its package, target,
// mode, features, profile and its dependencies' hashes, never a host path.
func (w *graphWriter) hash(i int) string {
	if w.hashes[i] != "" {
		return w.hashes[i]
	}
	u := &w.g.Units[i]
	h := sha256.New()
	pkg := w.pkgs[u.PkgID]
	src := "path"
	if pkg != nil && pkg.Source != nil {
		src = *pkg.Source
	}
	name, version := pkgNameVersion(u.PkgID, pkg)
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00", name, version, src, strings.Join(u.Target.Kind, ","), u.Target.Name, u.Mode, strings.Join(u.Features, ","))
	h.Write(u.raw)
	var deps []string
	for _, d := range u.Dependencies {
		deps = append(deps, d.ExternCrateName+"="+w.hash(d.Index))
	}
	sort.Strings(deps)
	fmt.Fprintf(h, "\x00%s", strings.Join(deps, ","))
	w.hashes[i] = hex.EncodeToString(h.Sum(nil))[:16]
	return w.hashes[i]
}

// pkgNameVersion reads a package id: "registry+URL#name@1.0.0", "path+file:///dir#1.0.0"
// (the name is the directory's), or the old "name 1.0.0 (source)".
func pkgNameVersion(id string, pkg *metaPackage) (string, string) {
	if pkg != nil {
		return pkg.Name, pkg.Version
	}
	if f := strings.Fields(id); len(f) >= 2 && !strings.Contains(id, "#") {
		return f[0], f[1]
	}
	_, frag, _ := strings.Cut(id, "#")
	if n, v, ok := strings.Cut(frag, "@"); ok {
		return n, v
	}
	return "", frag
}

func isBuildScript(u *graphUnit) bool {
	return len(u.Target.Kind) > 0 && u.Target.Kind[0] == "custom-build"
}

// profileDir is the target directory's profile folder: debug for dev (and test), release for
// release (and bench), else the profile's name.
func profileDir(name string) string {
	switch name {
	case "dev", "test":
		return "debug"
	case "bench":
		return "release"
	}
	return name
}

// invocation writes unit i's invocation (its dependencies are written already).
func (w *graphWriter) invocation(i int) (*invocation, error) {
	u := &w.g.Units[i]
	pkg, ok := w.pkgs[u.PkgID]
	if !ok {
		return nil, fmt.Errorf("%w: unit %d: package %q not in cargo metadata", ErrPlan, i, u.PkgID)
	}
	if u.Platform != nil && *u.Platform != hostTriple {
		return nil, fmt.Errorf("%w: %s is compiled for %s (cross compilation)", ErrUnsupported, pkg.Name, *u.Platform)
	}
	if u.IsStd {
		return nil, fmt.Errorf("%w: building the standard library (-Z build-std)", ErrUnsupported)
	}
	kind := u.Target.Kind
	mode := u.Mode
	hash := w.hash(i)
	pkgDir := filepath.Dir(pkg.ManifestPath)
	local := pkg.Source == nil
	profDir := filepath.Join(w.ws.TargetDir, profileDir(u.Profile.Name))
	depsDir := filepath.Join(profDir, "deps")
	buildDir := func(h string) string { return filepath.Join(profDir, "build", pkg.Name+"-"+h) }
	inv := &invocation{PackageName: pkg.Name, PackageVersion: pkg.Version, TargetKind: kind, CompileMode: mode,
		Links: map[string]string{}, Env: w.pkgEnv(pkg), Cwd: pkgDir}
	if local {
		inv.Cwd = w.ws.Root
	}
	// The run of the package's build script, if the unit has one: its OUT_DIR.
	var runDep *invocation
	for _, d := range u.Dependencies {
		du := &w.g.Units[d.Index]
		if du.Mode == "run-custom-build" && du.PkgID == u.PkgID {
			runDep = w.invs[d.Index]
		}
	}

	if mode == "run-custom-build" {
		var script string
		for _, d := range u.Dependencies {
			if du := &w.g.Units[d.Index]; du.Mode == "build" && isBuildScript(du) && du.PkgID == u.PkgID {
				for l := range w.invs[d.Index].Links {
					script = l
				}
			}
		}
		if script == "" {
			return nil, fmt.Errorf("%w: the build script run of %s has no build script compile", ErrPlan, pkg.Name)
		}
		inv.Program = script
		inv.Cwd = pkgDir
		for k, v := range w.cfgEnv {
			inv.Env[k] = v
		}
		for _, f := range u.Features {
			inv.Env["CARGO_FEATURE_"+strings.ToUpper(strings.ReplaceAll(f, "-", "_"))] = "1"
		}
		if pkg.Links != nil {
			inv.Env["CARGO_MANIFEST_LINKS"] = *pkg.Links
		}
		debug := "false"
		if d := strings.Trim(string(u.Profile.Debuginfo), `"`); d != "" && d != "0" && d != "null" && d != "none" {
			debug = "true"
		}
		profile := "debug"
		if u.Profile.Name == "release" || u.Profile.Name == "bench" {
			profile = "release"
		}
		for k, v := range map[string]string{"CARGO_ENCODED_RUSTFLAGS": "", "DEBUG": debug, "HOST": hostTriple, "TARGET": hostTriple,
			"NUM_JOBS": "1", "OPT_LEVEL": u.Profile.OptLevel, "OUT_DIR": filepath.Join(buildDir(hash), "out"),
			"PROFILE": profile, "RUSTC": "rustc", "RUSTDOC": "rustdoc"} {
			inv.Env[k] = v
		}
		return w.done(i, inv), nil
	}
	if mode != "build" {
		return nil, fmt.Errorf("%w: %s: unit mode %q (only cargo build)", ErrUnsupported, pkg.Name, mode)
	}

	crate := strings.ReplaceAll(u.Target.Name, "-", "_")
	inv.Program = "rustc"
	src := u.Target.SrcPath
	if local {
		if rel, ok := under(w.ws.Root, src); ok {
			src = rel
		}
	}
	args := []string{"--crate-name", crate}
	if u.Target.Edition != "" && u.Target.Edition != "2015" {
		args = append(args, "--edition="+u.Target.Edition)
	}
	args = append(args, src, "--error-format=json", "--json=diagnostic-rendered-ansi,artifacts,future-incompat")
	for _, ct := range u.Target.CrateTypes {
		args = append(args, "--crate-type", ct)
	}
	lib := !isBuildScript(u) && len(kind) > 0 && (kind[0] == "lib" || kind[0] == "rlib")
	procMacro := len(kind) > 0 && kind[0] == "proc-macro"
	if lib {
		args = append(args, "--emit=dep-info,metadata,link")
	} else {
		args = append(args, "--emit=dep-info,link")
	}
	if procMacro {
		args = append(args, "-C", "prefer-dynamic")
	}
	pa, err := profileArgs(&u.Profile, procMacro || isBuildScript(u))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkg.Name, err)
	}
	args = append(args, pa...)
	feats := append([]string(nil), u.Features...)
	sort.Strings(feats)
	for _, f := range feats {
		args = append(args, "--cfg", fmt.Sprintf("feature=%q", f))
	}
	outDir := depsDir
	if isBuildScript(u) {
		outDir = buildDir(hash)
	}
	args = append(args, "-C", "metadata="+hash, "-C", "extra-filename=-"+hash, "--out-dir", outDir, "-L", "dependency="+depsDir)
	for _, d := range u.Dependencies {
		du := &w.g.Units[d.Index]
		if du.Mode != "build" || isBuildScript(du) {
			continue
		}
		dinv := w.invs[d.Index]
		if len(dinv.Outputs) == 0 {
			return nil, fmt.Errorf("%w: %s depends on %s, which has no output", ErrPlan, pkg.Name, dinv.PackageName)
		}
		// Cargo pipelines: a library compiles against its library dependencies' metadata
		// (.rmeta); whatever links (bins, proc macros, build scripts) takes the .rlib.
		ext := dinv.Outputs[0]
		if lib && len(dinv.Outputs) > 1 && strings.HasSuffix(dinv.Outputs[1], ".rmeta") {
			ext = dinv.Outputs[1]
		}
		args = append(args, "--extern", d.ExternCrateName+"="+ext)
	}
	if procMacro {
		args = append(args, "--extern", "proc_macro")
	}
	if !local {
		args = append(args, "--cap-lints", "allow")
	}
	inv.Args = args
	inv.Env["CARGO_CRATE_NAME"] = crate
	if runDep != nil {
		inv.Env["OUT_DIR"] = runDep.Env["OUT_DIR"]
	}
	if w.primary[u.PkgID] {
		inv.Env["CARGO_PRIMARY_PACKAGE"] = "1"
	}
	switch {
	case isBuildScript(u):
		out := filepath.Join(outDir, crate+"-"+hash)
		inv.Outputs = []string{out}
		inv.Links[filepath.Join(outDir, "build-script-build")] = out
	case procMacro:
		inv.Outputs = []string{filepath.Join(depsDir, "lib"+crate+"-"+hash+".so")}
	case lib:
		inv.Outputs = []string{filepath.Join(depsDir, "lib"+crate+"-"+hash+".rlib"), filepath.Join(depsDir, "lib"+crate+"-"+hash+".rmeta")}
	case len(kind) > 0 && kind[0] == "bin":
		out := filepath.Join(depsDir, crate+"-"+hash)
		inv.Outputs = []string{out}
		inv.Links[filepath.Join(profDir, u.Target.Name)] = out
		inv.Env["CARGO_BIN_NAME"] = u.Target.Name
	default:
		return nil, fmt.Errorf("%w: %s: target kind %v (lib, proc-macro, bin and build scripts only)", ErrUnsupported, pkg.Name, kind)
	}
	return w.done(i, inv), nil
}

func (w *graphWriter) done(i int, inv *invocation) *invocation {
	w.invs[i] = inv
	return inv
}

// profileArgs are rustc's codegen flags for a profile, as cargo passes them (only what differs
// from rustc's defaults). hostOnly units (proc macros, build scripts) never abort on panic.
func profileArgs(p *graphProfile, hostOnly bool) ([]string, error) {
	var args []string
	if p.OptLevel != "" && p.OptLevel != "0" {
		args = append(args, "-C", "opt-level="+p.OptLevel)
	}
	if p.Panic == "abort" && !hostOnly {
		args = append(args, "-C", "panic=abort")
	}
	switch p.LTO {
	case "", "false":
	default:
		return nil, fmt.Errorf("%w: lto = %s", ErrUnsupported, p.LTO)
	}
	args = append(args, "-C", "embed-bitcode=no")
	if p.CodegenUnits != nil {
		args = append(args, "-C", fmt.Sprintf("codegen-units=%d", *p.CodegenUnits))
	}
	switch d := strings.Trim(string(p.Debuginfo), `"`); d {
	case "", "0", "null", "none":
	case "limited":
		args = append(args, "-C", "debuginfo=1")
	case "full":
		args = append(args, "-C", "debuginfo=2")
	default:
		args = append(args, "-C", "debuginfo="+d)
	}
	defaultAssertions := p.OptLevel == "0"
	if p.DebugAssertion != defaultAssertions {
		args = append(args, "-C", "debug-assertions="+onOff(p.DebugAssertion))
	}
	if p.OverflowChecks != p.DebugAssertion {
		args = append(args, "-C", "overflow-checks="+onOff(p.OverflowChecks))
	}
	if p.Rpath {
		args = append(args, "-C", "rpath")
	}
	var strip string
	if err := json.Unmarshal(p.Strip, &strip); err != nil {
		var deferred struct{ Deferred, Resolved string }
		_ = json.Unmarshal(p.Strip, &deferred)
		strip = deferred.Resolved
	}
	if s := strings.ToLower(strip); s == "debuginfo" || s == "symbols" {
		args = append(args, "-C", "strip="+s)
	}
	return args, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// pkgEnv is what cargo tells every compile and build script of a package about it.
func (w *graphWriter) pkgEnv(p *metaPackage) map[string]string {
	s := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	ver := p.Version
	pre := ""
	if core, pr, ok := strings.Cut(ver, "-"); ok {
		ver, pre = core, pr
	}
	ver, _, _ = strings.Cut(ver, "+")
	parts := append(strings.SplitN(ver, ".", 3), "", "", "")
	return map[string]string{
		"CARGO_MANIFEST_DIR": filepath.Dir(p.ManifestPath), "CARGO_PKG_AUTHORS": strings.Join(p.Authors, ":"),
		"CARGO_PKG_DESCRIPTION": s(p.Description), "CARGO_PKG_HOMEPAGE": s(p.Homepage), "CARGO_PKG_LICENSE": s(p.License),
		"CARGO_PKG_LICENSE_FILE": s(p.LicenseFile), "CARGO_PKG_NAME": p.Name, "CARGO_PKG_REPOSITORY": s(p.Repository),
		"CARGO_PKG_RUST_VERSION": s(p.RustVersion), "CARGO_PKG_VERSION": p.Version, "CARGO_PKG_VERSION_MAJOR": parts[0],
		"CARGO_PKG_VERSION_MINOR": parts[1], "CARGO_PKG_VERSION_PATCH": parts[2], "CARGO_PKG_VERSION_PRE": pre,
	}
}

// cargoCfgEnv turns `rustc --print cfg` into the build scripts' CARGO_CFG_* variables (values
// of a key sorted and joined by commas; debug_assertions and features are the profile's and
// the unit's, not the target's).
func cargoCfgEnv(printCfg string) map[string]string {
	vals := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(printCfg))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, v, hasVal := strings.Cut(line, "=")
		if k == "debug_assertions" || k == "feature" {
			continue
		}
		if _, ok := vals[k]; !ok {
			vals[k] = nil
		}
		if hasVal {
			vals[k] = append(vals[k], strings.Trim(v, `"`))
		}
	}
	env := map[string]string{}
	for k, vs := range vals {
		sort.Strings(vs)
		env["CARGO_CFG_"+strings.ToUpper(k)] = strings.Join(vs, ",")
	}
	return env
}

// targetCfg is the rust toolchain's `rustc --print cfg` for the host target, printed in the
// sandbox (a derivation, so cached after the first build).
func (b *build) targetCfg(ctx context.Context) (string, error) {
	rust, bb := storePath(b.cfg.Rust), storePath(b.cfg.Bootstrap)
	d := &derivation.Derivation{Name: "rust-target-cfg", System: builder.HostSystem(), Builder: bb + "/bin/sh",
		Args:   []string{"-c", `"$rustc" --print cfg --target ` + hostTriple + ` > "$out"`},
		Env:    map[string]string{"rustc": rust + "/usr/bin/rustc"},
		Inputs: []derivation.Input{{CID: b.cfg.Bootstrap}, {CID: b.cfg.Rust}}, Outputs: []string{"out"}}
	drv, err := b.cfg.Builder.AddDerivation(d)
	if err != nil {
		return "", err
	}
	res, err := b.cfg.Builder.Build(ctx, drv, builder.Options{})
	if err != nil {
		return "", fmt.Errorf("rustc --print cfg: %w", err)
	}
	var buf bytes.Buffer
	if err := b.cfg.Store.Cat(ctx, res.Output, "", &buf); err != nil {
		return "", err
	}
	return buf.String(), nil
}
