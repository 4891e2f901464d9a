package gobuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/storefs"
)

// toolFlags: per tool, the flags that take the next argument as their value, and what the
// value is: "out" (a file the tool writes), "in" (a file it reads), "cfg" (an importcfg),
// "embed" (an embedcfg), "dir" (an include directory), "trim" (-trimpath rules), "" (a plain
// value).
var toolFlags = map[string]map[string]string{
	"compile": {"-o": "out", "-asmhdr": "out", "-importcfg": "cfg", "-embedcfg": "embed", "-symabis": "in",
		"-pgoprofile": "in", "-trimpath": "trim", "-p": "", "-lang": "", "-buildid": "", "-goversion": "", "-D": ""},
	"asm":  {"-o": "out", "-I": "dir", "-trimpath": "trim", "-p": "", "-D": ""},
	"link": {"-o": "out", "-importcfg": "cfg", "-X": "", "-extldflags": "", "-linkmode": "", "-r": ""},
}

// toolEnv are the variables a tool reads that the go command may set for it.
var toolEnv = []string{"GOROOT", "GOOS", "GOARCH", "GOAMD64", "GOARM64", "GO386", "GOARM", "GOEXPERIMENT", "GOFIPS140", "GOPPC64", "GORISCV64", "GOWASM"}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9+._?=-]+`)

// plan is one invocation being translated.
type plan struct {
	s       *server
	stage   string         // host staging dir of the step store path
	dirs    map[string]int // host dir -> d{k}
	inputs  []cid.Cid      // archive store paths
	hosts   []string       // the host file of each of inputs
	haveIn  map[cid.Cid]bool
	outputs map[string]string // base name in $out -> host path
}

// sandboxDir maps a host directory: GOROOT into the toolchain, others to d{k} of the step.
func (p *plan) sandboxDir(dir string) string {
	if rel, ok := under(p.s.goroot, dir); ok {
		return path.Join(derivation.StorePrefix+p.s.cfg.Toolchain.String(), rel)
	}
	k, ok := p.dirs[dir]
	if !ok {
		k = len(p.dirs)
		p.dirs[dir] = k
	}
	return fmt.Sprintf("@STEP@/d%d", k)
}

func under(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// file maps a file the tool reads: copied into the step (d{k}/base), or, for an archive (a
// package file of an importcfg, which may be a GOCACHE entry, or a .a/.o argument), its own
// store path.
func (p *plan) file(ctx context.Context, host string, archive bool) (string, error) {
	if rel, ok := under(p.s.goroot, host); ok {
		return path.Join(derivation.StorePrefix+p.s.cfg.Toolchain.String(), rel), nil
	}
	if ext := filepath.Ext(host); archive || ext == ".a" || ext == ".o" || p.s.cache.isBody(host) {
		c, err := p.s.archive(ctx, host)
		if err != nil {
			return "", err
		}
		if !p.haveIn[c] {
			p.haveIn[c] = true
			p.inputs = append(p.inputs, c)
			p.hosts = append(p.hosts, host)
		}
		return derivation.StorePrefix + c.String(), nil
	}
	d := p.sandboxDir(filepath.Dir(host))
	if err := p.copyIn(host, d, filepath.Base(host)); err != nil {
		return "", err
	}
	return d + "/" + filepath.Base(host), nil
}

// archive is the CID an archive has as a single-file store path, hashed once per version of
// the file. It is not stored: a step that is cached needs only its CID (see store).
func (s *server) archive(ctx context.Context, host string) (cid.Cid, error) {
	if c, ok := s.cache.archive(host); ok {
		return c, nil // a body of the go command's cache, hash-checked when the go command got it
	}
	fi, err := os.Stat(host)
	if err != nil {
		return cid.Undef, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	key := fileKey{path: host, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st != nil {
		key.ino = st.Ino
	}
	s.mu.Lock()
	c, ok := s.files[key]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err = s.cfg.Store.AddPath(ctx, host, storefs.AddOptions{OnlyHash: true})
	if err != nil {
		return cid.Undef, fmt.Errorf("hash %s: %w", host, err)
	}
	s.mu.Lock()
	s.files[key] = c
	s.mu.Unlock()
	s.cache.setArchive(host, c)
	return c, nil
}

// store adds what a step that runs (or is published) needs in the store: its sources (the
// staged step directory, which must add as stepCID) and its archives. Steps found in the cache
// skip this: hashing takes no store lock and writes nothing, adding does both.
func (p *plan) store(ctx context.Context, stepCID cid.Cid) error {
	s := p.s
	c, err := s.cfg.Store.AddPath(ctx, p.stage, storefs.AddOptions{PreserveMode: true})
	if err != nil {
		return err
	}
	s.tempPinned(c)
	if c != stepCID {
		return fmt.Errorf("step sources added as %s, hashed as %s", c, stepCID)
	}
	if err := s.cfg.Builder.RecordRefs(c, nil); err != nil {
		return err
	}
	for i, want := range p.inputs {
		s.mu.Lock()
		added := s.added[want]
		s.mu.Unlock()
		if added {
			continue
		}
		// Already in the store (an earlier build added it, e.g. for the step that ran when
		// this package last changed): held by a temp pin taken under the add lock, so a GC
		// cannot take it before the build pins its inputs. Not read again.
		var have bool
		if err := s.cfg.Store.WithAddLock(func() error {
			ok, err := s.cfg.Store.HasBlock(want)
			if err != nil || !ok {
				return err
			}
			if _, ok, err := s.cfg.Store.RecordedReferences(want); err != nil || !ok {
				return err
			}
			have = true
			return s.cfg.Store.TempPin(want)
		}); err != nil {
			return err
		}
		if have {
			s.tempPinned(want)
			s.mu.Lock()
			s.added[want] = true
			s.mu.Unlock()
			continue
		}
		c, err := s.cfg.Store.AddPath(ctx, p.hosts[i], storefs.AddOptions{})
		if err != nil {
			return fmt.Errorf("add %s: %w", p.hosts[i], err)
		}
		s.tempPinned(c)
		if c != want {
			return fmt.Errorf("%s changed while the step ran (added as %s, hashed as %s)", p.hosts[i], c, want)
		}
		if err := s.cfg.Builder.RecordRefs(c, nil); err != nil {
			return err
		}
		s.mu.Lock()
		s.added[c] = true
		s.mu.Unlock()
	}
	return nil
}

// tempPinned records a temp pin the build took, released once the build's pins are set.
func (s *server) tempPinned(c cid.Cid) {
	s.mu.Lock()
	s.temps = append(s.temps, c)
	s.mu.Unlock()
}

// step translates one invocation into a derivation, builds it (or takes it from the cache)
// and writes its outputs where the go command expects them. log is the tool's output of a
// failed build, with sandbox paths put back to host paths.
func (s *server) step(ctx context.Context, req request) (*Step, string, error) {
	if len(req.Args) == 0 {
		return nil, "", fmt.Errorf("%w: empty", ErrStep)
	}
	toolHost := req.Args[0]
	rel, ok := under(filepath.Join(s.goroot, "pkg", "tool"), toolHost)
	if !ok {
		return nil, "", fmt.Errorf("%w: %s is not a tool of the go toolchain", ErrStep, toolHost)
	}
	tool := path.Base(rel)
	flags, ok := toolFlags[tool]
	if !ok {
		return nil, "", fmt.Errorf("%w: go tool %s", ErrStep, tool)
	}
	env := map[string]string{}
	importPath := ""
	for _, kv := range req.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "TOOLEXEC_IMPORTPATH" {
			importPath = v
		}
		for _, e := range toolEnv {
			if k == e {
				env[k] = v
			}
		}
	}
	t0 := time.Now()
	var times Times
	stage, err := s.cfg.Builder.TempDir("gostep")
	if err != nil {
		return nil, "", err
	}
	defer builder.RemoveAll(stage)
	p := &plan{s: s, stage: filepath.Join(stage, "step"), dirs: map[string]int{}, haveIn: map[cid.Cid]bool{}, outputs: map[string]string{}}
	if err := os.MkdirAll(p.stage, 0o755); err != nil {
		return nil, "", err
	}
	abs := func(f string) string {
		if filepath.IsAbs(f) {
			return filepath.Clean(f)
		}
		return filepath.Join(req.Dir, f)
	}
	var args []string
	var trim []int             // indexes in args of -trimpath values, rewritten last
	var objdir, buildID string // the package's object directory; a compile's action ID
	in := req.Args[1:]
	for i := 0; i < len(in); i++ {
		a := in[i]
		if strings.HasPrefix(a, "-c=") && tool == "compile" {
			args = append(args, "-c=4") // backend concurrency: machine-dependent, never in the output
			continue
		}
		kind, takesValue := flags[a]
		if !takesValue {
			if strings.HasPrefix(a, "-") {
				args = append(args, a)
				continue
			}
			// A positional argument: a source file or, for link, the main package archive.
			m, err := p.file(ctx, abs(a), false)
			if err != nil {
				return nil, "", fmt.Errorf("%w: %s %s: %v", ErrStep, tool, a, err)
			}
			args = append(args, m)
			continue
		}
		if i+1 >= len(in) {
			return nil, "", fmt.Errorf("%w: %s %s without a value", ErrStep, tool, a)
		}
		i++
		v := in[i]
		args = append(args, a)
		switch kind {
		case "out":
			if a == "-o" && tool != "link" {
				objdir = filepath.Dir(abs(v))
			}
			base := filepath.Base(v)
			if _, dup := p.outputs[base]; dup {
				return nil, "", fmt.Errorf("%w: two outputs named %s", ErrStep, base)
			}
			p.outputs[base] = abs(v)
			args = append(args, derivation.OutMark+"/"+base)
		case "in":
			m, err := p.file(ctx, abs(v), false)
			if err != nil {
				return nil, "", err
			}
			args = append(args, m)
		case "dir":
			d := abs(v)
			m := p.sandboxDir(d)
			if !strings.HasPrefix(m, "@STEP@") {
				args = append(args, m)
				break
			}
			// An include dir of the work dir: the headers in it (go_asm.h) come along.
			hs, _ := filepath.Glob(filepath.Join(d, "*.h"))
			for _, h := range hs {
				if _, err := p.file(ctx, h, false); err != nil {
					return nil, "", err
				}
			}
			if err := os.MkdirAll(filepath.Join(p.stage, strings.TrimPrefix(m, "@STEP@/")), 0o755); err != nil {
				return nil, "", err
			}
			args = append(args, m+"/")
		case "cfg":
			m, err := p.importcfg(ctx, abs(v))
			if err != nil {
				return nil, "", err
			}
			args = append(args, m)
		case "embed":
			m, err := p.embedcfg(abs(v), p.sandboxDir(filepath.Clean(req.Dir)))
			if err != nil {
				return nil, "", err
			}
			args = append(args, m)
		case "trim":
			trim = append(trim, len(args))
			args = append(args, v)
		default:
			if a == "-buildid" {
				buildID, _, _ = strings.Cut(v, "/")
			}
			args = append(args, v)
		}
	}
	// The working directory: the compiler may record it (trimmed by the same rules).
	cwd := p.sandboxDir(filepath.Clean(req.Dir))
	for _, i := range trim {
		var rules []string
		for _, r := range strings.Split(args[i], ";") {
			from, to, ok := strings.Cut(r, "=>")
			if !ok || from == "" {
				rules = append(rules, r)
				continue
			}
			rules = append(rules, p.sandboxDir(filepath.Clean(from))+"=>"+to)
		}
		args[i] = strings.Join(rules, ";")
	}
	if strings.HasPrefix(cwd, "@STEP@") {
		if err := os.MkdirAll(filepath.Join(p.stage, strings.TrimPrefix(cwd, "@STEP@/")), 0o755); err != nil {
			return nil, "", err
		}
	}
	if v, ok := env["GOROOT"]; ok && v != "" {
		env["GOROOT"] = derivation.StorePrefix + s.cfg.Toolchain.String()
	}
	if len(p.outputs) == 0 {
		return nil, "", fmt.Errorf("%w: %s writes no file", ErrStep, tool)
	}
	if err := builder.Canonicalise(p.stage); err != nil {
		return nil, "", err
	}
	stepCID, err := s.cfg.Store.AddPath(ctx, p.stage, storefs.AddOptions{PreserveMode: true, OnlyHash: true})
	if err != nil {
		return nil, "", err
	}
	stepPath := derivation.StorePrefix + stepCID.String()
	fill := func(x string) string { return strings.ReplaceAll(x, "@STEP@", stepPath) }
	var script strings.Builder
	fmt.Fprintf(&script, "mkdir -p \"$out\" && cd %s && exec %s", derivation.ShellQuote(fill(cwd)), derivation.ShellQuote(path.Join(derivation.StorePrefix+s.cfg.Toolchain.String(), "pkg", "tool", rel)))
	for _, a := range args {
		script.WriteString(" " + derivation.ShellQuote(fill(a)))
	}
	bb := derivation.StorePrefix + s.cfg.Bootstrap.String()
	env["PATH"] = bb + "/bin"
	name := tool
	if importPath != "" {
		name += "-" + strings.Trim(nameUnsafe.ReplaceAllString(importPath, "_"), "._")
	}
	if len(name) > 200 {
		name = name[:200]
	}
	inputs := []derivation.Input{{CID: s.cfg.Bootstrap}, {CID: s.cfg.Toolchain}, {CID: stepCID}}
	for _, c := range p.inputs {
		inputs = append(inputs, derivation.Input{CID: c})
	}
	d := &derivation.Derivation{Name: name, System: builder.HostSystem(), Builder: bb + "/bin/sh",
		Args: []string{"-c", script.String()}, Env: env, Inputs: inputs, Outputs: []string{"out"}}
	_, drv, err := d.Block()
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", tool, importPath, err)
	}
	st := &Step{Tool: tool, ImportPath: importPath, Derivation: drv, objdir: objdir, buildID: buildID}
	tPlan := time.Now()
	times.Plan = tPlan.Sub(t0)
	out, ok := s.cfg.Builder.CachedOutput(drv)
	st.Cached = ok
	if !ok {
		// It is substituted or runs (and may be published): the derivation goes in the store.
		if _, err := s.cfg.Builder.AddDerivation(d); err != nil {
			return nil, "", fmt.Errorf("%s %s: %w", tool, importPath, err)
		}
	}
	// Its inputs go in the store only if it runs: a substituted step needs only its
	// derivation, and a second developer's build would otherwise copy every source file and
	// archive into the store (a link: all of them) for steps it never runs.
	addInputs := func() error {
		t := time.Now()
		defer func() { times.Add += time.Since(t) }()
		if err := p.store(ctx, stepCID); err != nil {
			return fmt.Errorf("%s %s: %w", tool, importPath, err)
		}
		return nil
	}
	t1 := time.Now()
	times.Add = t1.Sub(tPlan)
	if !ok && s.cfg.Substitute != nil {
		if out, ok, err = s.cfg.Substitute(ctx, drv, d); err != nil {
			return nil, "", fmt.Errorf("%s %s: substitute: %w", tool, importPath, err)
		}
		st.Substituted = ok
		if ok {
			// The local cache has it from now on (it was verified on chain and hash-checked).
			if err := s.cfg.Builder.RecordOutput(drv, out); err != nil {
				return nil, "", err
			}
		}
		times.Fetch = time.Since(t1)
	}
	if !ok {
		if err := addInputs(); err != nil {
			return nil, "", err
		}
		t2 := time.Now()
		s.slots <- struct{}{}
		t3 := time.Now()
		times.Wait = t3.Sub(t2)
		res, err := s.cfg.Builder.Build(ctx, drv, builder.Options{})
		<-s.slots
		if res != nil {
			if tool == "link" {
				times.Link = res.BuildTime
			} else {
				times.Compile = res.BuildTime
			}
			times.Output = res.OutputTime
			times.Setup = max(time.Since(t3)-res.BuildTime-res.OutputTime, 0)
		}
		if err != nil {
			log, _ := os.ReadFile(s.cfg.Builder.LogPath(drv))
			text := string(log)
			for dir, k := range p.dirs {
				text = strings.ReplaceAll(text, fmt.Sprintf("%s/d%d", stepPath, k), dir)
			}
			var be *builder.Error
			if errors.As(err, &be) && text != "" {
				return nil, strings.TrimRight(text, "\n"), err
			}
			return nil, "", err
		}
		out, st.Cached = res.Output, res.Cached
		if !res.Cached && !res.Substituted {
			s.tempPinned(out) // Build leaves a new output temp-pinned
		}
	}
	st.Output = out
	for _, in := range inputs {
		st.uses = append(st.uses, in.CID)
	}
	t4 := time.Now()
	for base, host := range p.outputs {
		if err := s.copyOut(ctx, out, base, host); err != nil {
			return nil, "", err
		}
	}
	times.Copy = time.Since(t4)
	st.Times = times
	return st, "", nil
}

// copyOut writes $out/base of the step's output to host (replacing it: the go command may
// have made an empty file there) through internal/atomicfile, so the go command never reads a
// half-copied archive.
func (s *server) copyOut(ctx context.Context, out cid.Cid, base, host string) error {
	e, err := s.cfg.Store.Stat(ctx, out, base)
	if err != nil {
		return fmt.Errorf("step output %s: %w", base, err)
	}
	w, err := atomicfile.NewWriter(host, 0o644|(e.Mode.Perm()&0o111))
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := s.cfg.Store.Cat(ctx, out, base, w); err != nil {
		return err
	}
	return w.Commit()
}

// importcfg rewrites an importcfg: each packagefile names the archive's store path.
func (p *plan) importcfg(ctx context.Context, host string) (string, error) {
	data, err := os.ReadFile(host)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "packagefile "); ok {
			pkg, file, ok := strings.Cut(strings.TrimRight(rest, "\n"), "=")
			if !ok {
				return "", fmt.Errorf("%w: importcfg line %q", ErrStep, line)
			}
			m, err := p.file(ctx, file, true)
			if err != nil {
				return "", err
			}
			line = "packagefile " + pkg + "=" + m + "\n"
		}
		out.WriteString(line)
	}
	return p.generated(host, []byte(out.String()))
}

// embedcfg rewrites an embedcfg: each embedded file is copied into the step.
func (p *plan) embedcfg(host, cwd string) (string, error) {
	data, err := os.ReadFile(host)
	if err != nil {
		return "", err
	}
	var cfg struct {
		Patterns map[string][]string
		Files    map[string]string
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("%w: embedcfg %s: %v", ErrStep, host, err)
	}
	for name, f := range cfg.Files {
		m, err := p.embedFile(f, name)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(m, "@STEP@") {
			// The step cannot name its own CID: relative to the working directory (in the step).
			if m, err = filepath.Rel(cwd, m); err != nil {
				return "", err
			}
		}
		cfg.Files[name] = m
	}
	out, err := json.Marshal(cfg) // map keys sorted: deterministic
	if err != nil {
		return "", err
	}
	return p.generated(host, out)
}

// filepathDirOf is the package directory of an embedded file: f minus its pattern-relative name.
func filepathDirOf(f, name string) string {
	return strings.TrimSuffix(filepath.ToSlash(f), "/"+name)
}

// embedFile copies an embedded file (name relative to its package directory, possibly in a
// subdirectory) into the step under the package directory's d{k}.
func (p *plan) embedFile(host, name string) (string, error) {
	d := p.sandboxDir(filepath.FromSlash(filepathDirOf(host, name)))
	if !strings.HasPrefix(d, "@STEP@") {
		return path.Join(d, name), nil
	}
	if err := p.copyIn(host, d, name); err != nil {
		return "", err
	}
	return path.Join(d, name), nil
}

// copyIn copies host into the step at d (a @STEP@ directory) / name, once.
func (p *plan) copyIn(host, d, name string) error {
	dst := filepath.Join(p.stage, strings.TrimPrefix(d, "@STEP@/"), filepath.FromSlash(name))
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	data, err := os.ReadFile(host)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o444)
}

// generated writes a rewritten config file into the step, under the d{k} of the original's
// directory and its base name.
func (p *plan) generated(host string, data []byte) (string, error) {
	d := p.sandboxDir(filepath.Dir(host))
	dst := filepath.Join(p.stage, strings.TrimPrefix(d, "@STEP@/"), filepath.Base(host))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(dst, data, 0o444); err != nil {
		return "", err
	}
	return d + "/" + filepath.Base(host), nil
}
