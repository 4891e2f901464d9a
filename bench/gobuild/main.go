// Command gobuild measures `buildchaind go build` (node/gobuild) on buildchaind's own source
// (the repository's HEAD, exported to a scratch directory), each figure a ratio against a plain
// `go build -trimpath` of the same packages with the same toolchain, measured side by side in
// the same run:
//
//   - cold: an empty store (the go toolchain and busybox imported beforehand, not timed) vs
//     go build with an empty GOCACHE (goal ≤ 1.5×); the binaries must be byte-identical;
//   - warm: nothing changed, the same store vs go build with its GOCACHE warm (goal ≤ 2×);
//     both write a new -o file, so both link (ours takes the link from the store's cache), and
//     the go command takes every package from its cache (GOCACHEPROG, node/gobuild/gocache.go);
//   - substituted: a second developer's fresh store gets every step from the first store's
//     libp2p node over loopback (each block hash-checked) vs go build with an empty GOCACHE
//     (goal ≤ 0.5×). The chain's part, the VALID claim of each step, is played by a table of
//     the first store's outputs (tests/e2e TestGoBuildPublish has the real chain decide them);
//     so this figure leaves out one chain query per step;
//   - edit: one leaf package edited (-edit, default node/progress: a function added), rebuilt steps and time vs go
//     build with a warm GOCACHE after the same edit (goal ≤ 1.5×).
//
// For each run it prints where the time goes (gobuild.Stats.TimeLine): the build's wall-clock
// parts (setup, the go command's planning, the steps, the finish) and, summed over the steps
// (which run in parallel), planning a step, store add (sources, archives), chain+fetch, waiting
// for a sandbox slot, the builder's setup, the sandbox for compiles and for links (its start
// alone is measured with a no-op derivation and multiplied by the steps built), adding and
// scanning outputs, and copying them back.
//
// Run as root (the sandbox): go run ./bench/gobuild [-pkg ./cmd/buildchaind] [-edit node/progress/doc.go]
// [-phases cold,warm,substituted,edit] [-dir SRC] [-cpuprofile FILE]. -phases picks the figures;
// the first store is always filled by a cold build (warm, edit and substituted need it), but
// without "cold" it is not timed against go build. -dir builds a copy of another source tree
// instead of the repository's HEAD (e.g. -pkg ./node/gobuild/forwarder -edit
// node/gobuild/forwarder/main.go, a smaller package of the same tree, when a cold build of
// buildchaind takes too long). -cpuprofile writes a CPU profile of this process (the
// gobuild server, the builder and the store: everything but the go command and the tools).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/gobuild"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/toolchain"
	_ "github.com/buildchain/buildchain/node/toolchain/gotoolchain"
)

func main() {
	sandbox.Init()
	pkg := flag.String("pkg", "./cmd/buildchaind", "the package to build")
	keep := flag.Bool("keep", false, "keep the scratch directory")
	edit := flag.String("edit", "node/progress/doc.go", "the file (of a leaf package -pkg imports) the edit figure appends a function to")
	phaseList := flag.String("phases", "cold,warm,substituted,edit", "the figures to measure, comma-separated (substituted: a second store and a second cold go build)")
	srcDir := flag.String("dir", "", "build a copy of this source tree (default: the repository's HEAD)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the bench process here")
	flag.Parse()
	phases := map[string]bool{}
	for _, f := range strings.Split(*phaseList, ",") {
		switch f = strings.TrimSpace(f); f {
		case "cold", "warm", "substituted", "edit":
			phases[f] = true
		case "":
		default:
			fmt.Fprintf(os.Stderr, "bench/gobuild: unknown phase %q (cold, warm, substituted, edit)\n", f)
			os.Exit(2)
		}
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/gobuild: run as root (every step runs in the sandbox)")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "bench-gobuild-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err == nil && *cpuProfile != "" {
		var f *os.File
		if f, err = os.Create(*cpuProfile); err == nil {
			defer f.Close()
			if err = pprof.StartCPUProfile(f); err == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	if err == nil {
		err = run(context.Background(), dir, *pkg, *edit, *srcDir, phases)
	}
	if !*keep {
		builder.RemoveAll(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/gobuild:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// newNode opens a node (store, builder, p2p on loopback) at dir, bootstrapped to peers.
func newNode(dir string, peers ...*runtime.Runtime) (*runtime.Runtime, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var boot []string
	for _, p := range peers {
		n, err := p.P2P()
		if err != nil {
			return nil, err
		}
		for _, a := range n.Addrs() {
			boot = append(boot, a.String())
		}
	}
	no := false
	return runtime.Open(runtime.Config{StoreRoot: filepath.Join(dir, "ipfs"),
		Builder: builder.Config{Timeout: time.Hour, UseFUSE: &no, Log: io.Discard},
		P2P: &p2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: boot,
			ReprovideInterval: -1, ReannounceInterval: -1}})
}

// table plays the chain: the outputs the first store's steps produced.
type table map[cid.Cid]cid.Cid

func (t table) VerifiedOutput(_ context.Context, drv cid.Cid) (string, uint64, bool, error) {
	out, ok := t[drv]
	if !ok {
		return "", 0, false, nil
	}
	return out.String(), 1, true, nil
}

// goEnv: modules from the module cache only (the bench needs no network), static.
var goEnv = []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOENV=off", "GOROOT="}

func run(ctx context.Context, dir, pkg, editFile, srcDir string, phases map[string]bool) error {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if srcDir != "" {
		if out, err := exec.Command("cp", "-a", filepath.Clean(srcDir)+"/.", src).CombinedOutput(); err != nil {
			return fmt.Errorf("copy %s: %v: %s", srcDir, err, out)
		}
	} else {
		repo, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
		if err != nil {
			return fmt.Errorf("run inside the repository (or give -dir): %w", err)
		}
		archive := exec.Command("sh", "-c", "git -C \"$1\" archive HEAD | tar -x -C \"$2\"", "sh", strings.TrimSpace(string(repo)), src)
		if out, err := archive.CombinedOutput(); err != nil {
			return fmt.Errorf("export HEAD: %v: %s", err, out)
		}
	}
	a, err := newNode(filepath.Join(dir, "a"))
	if err != nil {
		return err
	}
	t0 := time.Now()
	tc, err := toolchain.Import(ctx, "go", "", &toolchain.Env{Store: a.Store(), Builder: a.Builder()})
	if err != nil {
		return fmt.Errorf("the go toolchain (make deps puts it in the module cache): %w", err)
	}
	bb, err := a.Builder().ImportBusybox(ctx, "", "")
	if err != nil {
		return err
	}
	fmt.Printf("setup: go toolchain %s imported in %s (not in the figures)\n", tc, time.Since(t0).Round(time.Millisecond))
	goroot, err := a.Builder().InputPath(ctx, tc)
	if err != nil {
		return err
	}
	startCost, err := sandboxStart(ctx, a, bb)
	if err != nil {
		return err
	}
	fmt.Printf("sandbox start (a no-op derivation, median of 5): %s\n", startCost.Round(time.Millisecond))

	gocache := filepath.Join(dir, "gocache")
	plain := func(out string, fresh bool) (time.Duration, error) {
		if fresh {
			builder.RemoveAll(gocache)
		}
		cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), "build", "-trimpath", "-o", out, pkg)
		cmd.Dir = src
		cmd.Env = append(append(os.Environ(), goEnv...), "GOCACHE="+gocache)
		t := time.Now()
		if o, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("go build: %v: %s", err, o)
		}
		return time.Since(t), nil
	}
	ours := func(n *runtime.Runtime, sub *runtime.Substitution, out string) (*gobuild.Stats, time.Duration, error) {
		var log bytes.Buffer
		cfg := gobuild.Config{Store: n.Store(), Builder: n.Builder(), Toolchain: tc, Bootstrap: bb, Dir: src,
			Args: []string{"-o", out, pkg}, Env: goEnv, Log: &log}
		if sub != nil {
			cfg.Substitute = sub.Substitute
		}
		t := time.Now()
		st, err := gobuild.Run(ctx, cfg)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %s", err, log.String())
		}
		return st, time.Since(t), nil
	}
	report := func(name string, st *gobuild.Stats, d, base time.Duration, baseName, goal string) {
		fmt.Printf("%-12s %s: %s vs %s %s = %.2fx (goal %s)\n", name, st.Line(), d.Round(time.Millisecond), baseName,
			base.Round(time.Millisecond), float64(d)/float64(base), goal)
		if st.GoCacheHits > 0 {
			fmt.Printf("%-12s the go command took %d packages from its cache (gobuild.Stats.GoCacheHits)\n", "", st.GoCacheHits)
		}
		fmt.Printf("%-12s %s\n", "", st.TimeLine())
		start := time.Duration(st.Built) * startCost
		fmt.Printf("%-12s of the sandbox time, its start ≈ %s (%d built × %s)\n", "", start.Round(time.Millisecond), st.Built, startCost.Round(time.Millisecond))
	}
	// Every binary has the same name (in a directory per run): the link's -o name is in its
	// derivation, so a second developer's link is substituted only if it writes the same name.
	bin := func(name string) string {
		d := filepath.Join(dir, "bin", name)
		_ = os.MkdirAll(d, 0o755)
		return filepath.Join(d, filepath.Base(pkg))
	}

	// cold (the first store is filled even when the figure is not asked for)
	var baseCold time.Duration
	if phases["cold"] {
		if baseCold, err = plain(bin("plain-cold"), true); err != nil {
			return err
		}
	}
	cold, dCold, err := ours(a, nil, bin("cold"))
	if err != nil {
		return err
	}
	if phases["cold"] {
		report("cold", cold, dCold, baseCold, "go build, empty GOCACHE", "≤ 1.5x")
		if same, err := sameFile(bin("cold"), bin("plain-cold")); err != nil || !same {
			return fmt.Errorf("the binary differs from go build -trimpath (%v)", err)
		}
		fmt.Printf("%-12s binary byte-identical to go build -trimpath\n", "")
	} else {
		fmt.Printf("%-12s %s: the first store filled in %s (not a figure: -phases)\n", "cold", cold.Line(), dCold.Round(time.Millisecond))
	}

	// warm (the plain build's GOCACHE is filled first when cold was not measured)
	if phases["warm"] || phases["edit"] {
		if !phases["cold"] {
			if _, err := plain(bin("plain-fill"), true); err != nil {
				return err
			}
		}
	}
	if phases["warm"] {
		baseWarm, err := plain(bin("plain-warm"), false)
		if err != nil {
			return err
		}
		warm, dWarm, err := ours(a, nil, bin("warm"))
		if err != nil {
			return err
		}
		report("warm", warm, dWarm, baseWarm, "go build, warm GOCACHE", "≤ 2x")
	}

	if phases["substituted"] {
		if err := substituted(ctx, dir, a, tc, cold, plain, ours, report, bin); err != nil {
			return err
		}
	}
	if !phases["edit"] {
		return nil
	}
	// edit (the plain build's GOCACHE is warm: its last build was of the same tree unedited)

	// edit one leaf package
	leaf := filepath.Join(src, filepath.FromSlash(editFile))
	if _, err := os.Stat(leaf); err != nil {
		return err
	}
	f, err := os.OpenFile(leaf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\n// BenchEdited was added by bench/gobuild.\nfunc BenchEdited() {}\n")
	f.Close()
	if err != nil {
		return err
	}
	baseEdit, err := plain(bin("plain-edit"), false)
	if err != nil {
		return err
	}
	edit, dEdit, err := ours(a, nil, bin("edit"))
	if err != nil {
		return err
	}
	report("edit", edit, dEdit, baseEdit, "go build, warm GOCACHE", "≤ 1.5x")
	var rebuilt []string
	for _, s := range edit.Steps {
		if !s.Cached {
			rebuilt = append(rebuilt, s.Tool+" "+s.ImportPath)
		}
	}
	fmt.Printf("%-12s rebuilt: %s\n", "", strings.Join(rebuilt, ", "))
	if same, err := sameFile(bin("edit"), bin("plain-edit")); err != nil || !same {
		return fmt.Errorf("the edited binary differs from go build -trimpath (%v)", err)
	}
	return nil
}

// substituted: a second developer's fresh store gets every step from a's p2p node.
func substituted(ctx context.Context, dir string, a *runtime.Runtime, tc cid.Cid, cold *gobuild.Stats,
	plain func(string, bool) (time.Duration, error),
	ours func(*runtime.Runtime, *runtime.Substitution, string) (*gobuild.Stats, time.Duration, error),
	report func(string, *gobuild.Stats, time.Duration, time.Duration, string, string), bin func(string) string) error {
	outputs := table{}
	for _, s := range cold.Steps {
		outputs[s.Derivation] = s.Output
	}
	bnode, err := newNode(filepath.Join(dir, "b"), a)
	if err != nil {
		return err
	}
	if _, _, err := bnode.Fetch(ctx, tc, nil); err != nil { // held until the end
		return fmt.Errorf("toolchain from the peer: %w", err)
	}
	if err := bnode.Builder().RecordRefs(tc, nil); err != nil {
		return err
	}
	if _, err := bnode.Builder().ImportBusybox(ctx, "", ""); err != nil {
		return err
	}
	var subLog bytes.Buffer
	sub := &runtime.Substitution{Chain: outputs, Fetch: bnode.Fetch, Timeout: 5 * time.Minute, Log: &subLog}
	defer sub.Release()
	baseCold2, err := plain(bin("plain-cold2"), true)
	if err != nil {
		return err
	}
	subst, dSub, err := ours(bnode, sub, bin("substituted"))
	if err != nil {
		return err
	}
	report("substituted", subst, dSub, baseCold2, "go build, empty GOCACHE", "≤ 0.5x")
	if subst.Built > 0 {
		fmt.Printf("%-12s %d steps were built, not substituted:\n%s\n", "", subst.Built, subLog.String())
	}

	return nil
}

// sandboxStart is the median time of a build of a derivation that does nothing.
func sandboxStart(ctx context.Context, n *runtime.Runtime, bb cid.Cid) (time.Duration, error) {
	var ds []time.Duration
	for i := range 5 {
		d := &derivation.Derivation{Name: "noop", System: builder.HostSystem(), Builder: derivation.StorePrefix + bb.String() + "/bin/sh",
			Args: []string{"-c", fmt.Sprintf("mkdir $out # %d %d", i, time.Now().UnixNano())},
			Env:  map[string]string{"PATH": derivation.StorePrefix + bb.String() + "/bin"}, Inputs: []derivation.Input{{CID: bb}}, Outputs: []string{"out"}}
		c, err := n.Builder().AddDerivation(d)
		if err != nil {
			return 0, err
		}
		res, err := n.Builder().Build(ctx, c, builder.Options{})
		if err != nil {
			return 0, err
		}
		ds = append(ds, res.BuildTime)
	}
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			if ds[j] < ds[i] {
				ds[i], ds[j] = ds[j], ds[i]
			}
		}
	}
	return ds[len(ds)/2], nil
}

func sameFile(a, b string) (bool, error) {
	x, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return sha256.Sum256(x) == sha256.Sum256(y), nil
}
