package cargobuild

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/storefs"
)

// outMark stands for the unit's own output in arguments and environment ("$out" in the script).
const outMark = derivation.OutMark

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9+._?=-]+`)

// translated is a unit's derivation and how to read its log.
type translated struct {
	drv   *derivation.Derivation
	repls []repl // host -> sandbox, longest host first
}

type repl struct{ host, sandbox string }

// hostPaths puts host paths back into a build log.
func (t *translated) hostPaths(log string) string {
	for _, r := range t.repls {
		if r.sandbox != outMark && r.sandbox != "" {
			log = strings.ReplaceAll(log, r.sandbox, r.host)
		}
	}
	return log
}

func storePath(c cid.Cid) string { return derivation.StorePrefix + c.String() }

// deps returns the unit's dependencies, direct and not, in plan order.
func (b *build) deps(u *unit) []*unit {
	seen := map[int]bool{}
	var walk func(i int)
	walk = func(i int) {
		for _, d := range b.units[i].inv.Deps {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(u.idx)
	idx := make([]int, 0, len(seen))
	for i := range seen {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]*unit, len(idx))
	for k, i := range idx {
		out[k] = b.units[i]
	}
	return out
}

// outDir is a build script run's OUT_DIR on the host.
func outDir(inv *invocation) string { return inv.Env["OUT_DIR"] }

// translate makes the unit's derivation (see the package doc).
func (b *build) translate(ctx context.Context, u *unit) (*translated, error) {
	inv := u.inv
	cwd := filepath.Clean(inv.Cwd)
	if m := inv.Env["CARGO_MANIFEST_DIR"]; m != "" {
		if _, ok := under(cwd, filepath.Clean(m)); !ok {
			return nil, fmt.Errorf("%w: package directory %s is not under the working directory %s", ErrUnsupported, m, cwd)
		}
	}
	src, err := b.source(ctx, cwd)
	if err != nil {
		return nil, err
	}
	rust, gcc, bb := storePath(b.cfg.Rust), storePath(b.cfg.GCC), storePath(b.cfg.Bootstrap)
	inputs := []derivation.Input{{CID: b.cfg.Bootstrap}, {CID: b.cfg.Rust}, {CID: b.cfg.GCC}, {CID: src}}
	have := map[cid.Cid]bool{b.cfg.Bootstrap: true, b.cfg.Rust: true, b.cfg.GCC: true, src: true}
	var repls []repl
	var depDirs []string // -L dependency= of the compile outputs
	var ownDirs, otherDirs []*directives
	depMeta := map[string]string{} // DEP_{LINKS}_{KEY} of a build script run
	for _, d := range b.deps(u) {
		if !have[d.out] {
			have[d.out] = true
			inputs = append(inputs, derivation.Input{CID: d.out})
		}
		dp := storePath(d.out)
		for _, o := range d.inv.Outputs {
			repls = append(repls, repl{o, dp + "/" + filepath.Base(o)})
		}
		for l, t := range d.inv.Links {
			repls = append(repls, repl{l, dp + "/" + filepath.Base(t)})
		}
		if d.inv.CompileMode == "run-custom-build" {
			repls = append(repls, repl{outDir(d.inv), dp + "/out"})
			if d.dirs != nil {
				if d.inv.PackageName == inv.PackageName && d.inv.PackageVersion == inv.PackageVersion && contains(inv.Deps, d.idx) {
					ownDirs = append(ownDirs, d.dirs)
				} else {
					otherDirs = append(otherDirs, d.dirs)
				}
				if links := d.inv.Env["CARGO_MANIFEST_LINKS"]; inv.CompileMode == "run-custom-build" && links != "" && contains(inv.Deps, d.idx) {
					d.dirs.depMetadataEnv(links, depMeta)
				}
			}
		} else if d.mode() != "build-script" {
			depDirs = append(depDirs, dp)
		}
	}
	run := inv.CompileMode == "run-custom-build"
	if run {
		repls = append(repls, repl{outDir(inv), outMark + "/out"})
	}
	repls = append(repls, repl{cwd, storePath(src)})
	sort.SliceStable(repls, func(i, j int) bool { return len(repls[i].host) > len(repls[j].host) })
	rewrite := func(s string) string {
		for _, r := range repls {
			s = strings.ReplaceAll(s, r.host, r.sandbox)
		}
		return s
	}

	var prog string
	var args []string
	if run {
		prog = rewrite(inv.Program)
	} else {
		if filepath.Base(inv.Program) != "rustc" {
			return nil, fmt.Errorf("%w: program %s (only rustc)", ErrUnsupported, inv.Program)
		}
		prog = rust + "/usr/bin/rustc"
		in := inv.Args
		for i := 0; i < len(in); i++ {
			a := in[i]
			switch {
			case a == "--error-format=json" || strings.HasPrefix(a, "--json="):
				continue // cargo renders JSON diagnostics; a build log wants them for people
			case (a == "-C" || a == "-L") && i+1 < len(in) && (strings.HasPrefix(in[i+1], "incremental=") || strings.HasPrefix(in[i+1], "dependency=")):
				i++ // incremental state is the host's; dependency dirs are added below
				continue
			case a == "--out-dir" && i+1 < len(in):
				i++
				args = append(args, a, outMark)
				continue
			}
			args = append(args, rewrite(a))
		}
		args = append(args, "-C", "linker="+gcc+"/bin/cc")
		for _, d := range depDirs {
			args = append(args, "-L", "dependency="+d)
		}
		bin, cdylib := "", false
		if u.mode() == "bin" {
			bin = inv.Env["CARGO_BIN_NAME"]
		}
		for _, k := range inv.TargetKind {
			cdylib = cdylib || k == "cdylib"
		}
		for _, d := range ownDirs {
			args = append(args, d.rustcArgs(bin, cdylib)...)
		}
		for _, d := range otherDirs {
			for _, s := range d.linkSearch {
				args = append(args, "-L", s)
			}
		}
	}

	env := map[string]string{"PATH": bb + "/bin:" + gcc + "/bin"}
	for k, v := range inv.Env {
		switch k {
		case "LD_LIBRARY_PATH", "CARGO", "RUSTDOC", "CARGO_MAKEFLAGS":
			continue
		case "NUM_JOBS":
			v = "1" // the machine's core count must not reach the output
		case "RUSTC":
			v = rust + "/usr/bin/rustc"
		}
		env[k] = rewrite(v)
	}
	for _, d := range ownDirs {
		for _, k := range d.envKeys() {
			env[k] = d.env[k]
		}
	}
	for k, v := range depMeta {
		env[k] = v
	}
	// Nothing may still name a host path of the build.
	leak := func(s string) error {
		for _, h := range b.hostRoots() {
			if strings.Contains(s, h) {
				return fmt.Errorf("%w: %q still names the host path %s", ErrUnsupported, s, h)
			}
		}
		return nil
	}
	for _, s := range append(append([]string{prog}, args...), mapValues(env)...) {
		if err := leak(s); err != nil {
			return nil, err
		}
	}
	if !strings.HasPrefix(prog, derivation.StorePrefix) {
		return nil, fmt.Errorf("%w: program %s is not a unit output", ErrUnsupported, inv.Program)
	}

	var script strings.Builder
	script.WriteString("set -e\n")
	var exports []string
	for k, v := range env {
		if strings.Contains(v, outMark) {
			exports = append(exports, k)
		}
	}
	sort.Strings(exports)
	for _, k := range exports {
		fmt.Fprintf(&script, "export %s=%s\n", k, derivation.ShellQuote(env[k]))
		delete(env, k)
	}
	wd := rewrite(cwd)
	if run {
		fmt.Fprintf(&script, "mkdir -p \"$out/out\"\ncd %s\n", derivation.ShellQuote(wd))
		fmt.Fprintf(&script, "%s >\"$out/output\" 2>\"$out/stderr\" || { rc=$?; echo '--- stdout'; cat \"$out/output\"; echo '--- stderr'; cat \"$out/stderr\"; exit $rc; }\n", derivation.ShellQuote(prog))
	} else {
		fmt.Fprintf(&script, "mkdir -p \"$out\"\ncd %s\nexec %s", derivation.ShellQuote(wd), derivation.ShellQuote(prog))
		for _, a := range args {
			script.WriteString(" " + derivation.ShellQuote(a))
		}
		script.WriteString("\n")
	}
	name := "rust-" + inv.PackageName + "-" + inv.PackageVersion + "-" + u.mode()
	if len(inv.TargetKind) > 0 && u.mode() == "bin" {
		name += "-" + inv.Env["CARGO_BIN_NAME"]
	}
	name = strings.Trim(nameUnsafe.ReplaceAllString(name, "_"), "._")
	if len(name) > 200 {
		name = name[:200]
	}
	d := &derivation.Derivation{Name: name, System: builder.HostSystem(), Builder: bb + "/bin/sh",
		Args: []string{"-c", script.String()}, Env: env, Inputs: inputs, Outputs: []string{"out"}}
	return &translated{drv: d, repls: repls}, nil
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// hostRoots are host directories no derivation may name: the target directory, the workspace
// and every package directory of the plan.
func (b *build) hostRoots() []string {
	roots := []string{b.ws.TargetDir, b.ws.Root}
	for _, u := range b.units {
		roots = append(roots, filepath.Clean(u.inv.Cwd))
	}
	return roots
}

func under(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// source adds a package directory to the store once per run. A directory of the workspace
// is staged without the target directory and dot directories (.git, .cargo), so neither
// build products nor repository metadata reach the units.
func (b *build) source(ctx context.Context, dir string) (cid.Cid, error) {
	b.mu.Lock()
	c, ok := b.sources[dir]
	b.mu.Unlock()
	if ok {
		return c, nil
	}
	addDir := dir
	if _, inWS := under(filepath.Clean(b.ws.Root), dir); inWS {
		stage, err := b.cfg.Builder.TempDir("cargo-src")
		if err != nil {
			return cid.Undef, err
		}
		defer builder.RemoveAll(stage)
		addDir = filepath.Join(stage, "src")
		if err := copyTree(dir, addDir, filepath.Clean(b.ws.TargetDir)); err != nil {
			return cid.Undef, err
		}
	}
	c, err := b.cfg.Store.AddPath(ctx, addDir, storefs.AddOptions{})
	if err != nil {
		return cid.Undef, fmt.Errorf("add source %s: %w", dir, err)
	}
	if err := b.cfg.Builder.RecordRefs(c, nil); err != nil {
		return cid.Undef, err
	}
	b.mu.Lock()
	b.sources[dir] = c
	b.mu.Unlock()
	return c, nil
}

// copyTree copies regular files, directories and symlinks of from to to, leaving out skip
// and names starting with a dot.
func copyTree(from, to, skip string) error {
	return filepath.WalkDir(from, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip || (p != from && strings.HasPrefix(de.Name(), ".")) {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		switch {
		case de.IsDir():
			return os.MkdirAll(dst, 0o755)
		case de.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, dst)
		case de.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, data, 0o644)
		}
		return nil
	})
}

// install writes a unit's results where cargo would: its output files and links, and for a
// build script run OUT_DIR and the script's output next to it (whose instructions it reads).
func (b *build) install(ctx context.Context, u *unit, out cid.Cid) error {
	inv := u.inv
	if inv.CompileMode == "run-custom-build" {
		var buf bytes.Buffer
		if err := b.cfg.Store.Cat(ctx, out, "output", &buf); err != nil {
			return err
		}
		dirs, err := parseDirectives(buf.String())
		if err != nil {
			return fmt.Errorf("build script output: %w", err)
		}
		u.dirs = dirs
		od := outDir(inv)
		if od == "" {
			return nil
		}
		if err := replaceDir(ctx, b.cfg.Store, out, "out", od); err != nil {
			return err
		}
		return writeFileAtomic(filepath.Join(filepath.Dir(od), "output"), buf.Bytes(), 0o644)
	}
	for _, o := range inv.Outputs {
		if err := copyOut(ctx, b.cfg.Store, out, filepath.Base(o), o); err != nil {
			return err
		}
	}
	for l, t := range inv.Links {
		if err := copyOut(ctx, b.cfg.Store, out, filepath.Base(t), l); err != nil {
			return err
		}
	}
	return nil
}

// copyOut writes file base of out to host, replacing what is there (atomically).
func copyOut(ctx context.Context, s *storefs.Store, out cid.Cid, base, host string) error {
	e, err := s.Stat(ctx, out, base)
	if err != nil {
		return fmt.Errorf("unit output %s: %w", base, err)
	}
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.Cat(ctx, out, base, &buf); err != nil {
		return err
	}
	return writeFileAtomic(host, buf.Bytes(), 0o644|(e.Mode.Perm()&0o111))
}

// writeFileAtomic writes an artifact where cargo would, replacing what is there
// (internal/atomicfile), creating its directory.
func writeFileAtomic(p string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, data, mode)
}

// replaceDir exports directory sub of out to host, replacing what is there.
func replaceDir(ctx context.Context, s *storefs.Store, out cid.Cid, sub, host string) error {
	nd, err := s.Resolve(ctx, out, sub)
	if err != nil {
		return fmt.Errorf("unit output %s: %w", sub, err)
	}
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return err
	}
	tmp := host + ".tmp-cargobuild"
	builder.RemoveAll(tmp)
	if err := s.ExportNode(ctx, nd, out, tmp); err != nil {
		return err
	}
	builder.RemoveAll(host)
	return os.Rename(tmp, host)
}
