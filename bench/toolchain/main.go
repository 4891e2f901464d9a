// Command toolchain measures the toolchains of `buildchaind bootstrap --toolchain NAME` (issue
// 11), every figure printed as a ratio against a baseline measured in the same run. Each
// toolchain's measurements live in their own file and register themselves (gcc.go, go.go,
// cargo.go: `buildchaind cargo build` with the rust toolchain, its own figures); gcc and go
// print, for their toolchain:
//
//   - import: `bootstrap --toolchain NAME` into a fresh store vs the floor of reading the same
//     pinned inputs (dpkg-deb -x of the .debs; a plain unzip of the module zip);
//   - build: an example program (examples/lua, examples/go-cli) built in the sandbox vs the same
//     script with the same toolchain run directly on the host (goal <= 1.15x);
//   - substitute: a store that lacks the toolchain fetches it from a peer (libp2p/bitswap on
//     loopback, every block hash-checked) vs importing it locally, each followed by the first
//     build that needs it (substitute.go).
//
// Run as root after `make deps`, from the repository root (`make bench` does):
//
//	go run ./bench/toolchain [-runs 3] [-only cargo|gcc|go]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
)

// A measurement: name (a toolchain) and a function printing its figures.
type measurement struct {
	name string
	run  func(c *config) error
}

var measurements []measurement

// register adds a toolchain's measurements (from an init function of its file).
func register(name string, run func(c *config) error) {
	measurements = append(measurements, measurement{name, run})
}

var examplesDir = flag.String("examples", "examples", "the repository's examples directory")

type config struct {
	runs int
	work string // scratch directory, removed at the end
}

// node is an empty node runtime (store, builder, p2p on loopback started on first use) in its
// own directory under the scratch directory.
type node struct {
	rt    *runtime.Runtime
	store *storefs.Store
	b     *builder.Builder
}

// newNode makes a node; with fuse it mounts the store's FUSE view and its builds bind inputs
// from it, else from materialised copies.
func (c *config) newNode(name string, fuse bool) (*node, error) {
	dir, err := os.MkdirTemp(c.work, name+"-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	rt, err := runtime.Open(runtime.Config{StoreRoot: filepath.Join(dir, "ipfs"),
		Builder: builder.Config{Timeout: time.Hour, UseFUSE: &fuse}, FUSE: fuse,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		P2P: &p2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, ReprovideInterval: -1, ReannounceInterval: -1}})
	if err != nil {
		return nil, err
	}
	if fuse {
		if err := rt.Start(context.Background()); err != nil {
			rt.Close()
			return nil, err
		}
	}
	return &node{rt: rt, store: rt.Store(), b: rt.Builder()}, nil
}

func (n *node) close() { n.rt.Close() }

// importToolchain runs `bootstrap --toolchain name` into n's store (quietly) and says how long
// it took.
func (n *node) importToolchain(ctx context.Context, name string) (cid.Cid, time.Duration, error) {
	start := time.Now()
	tc, err := toolchain.Import(ctx, name, "", &toolchain.Env{Store: n.store, Builder: n.b, Options: map[string]string{}, Log: io.Discard})
	return tc, time.Since(start), err
}

// newPeer makes a node (no FUSE) whose libp2p node is connected to from's over loopback.
func (c *config) newPeer(ctx context.Context, name string, from *node) (*node, error) {
	serve, err := from.rt.P2P()
	if err != nil {
		return nil, err
	}
	n, err := c.newNode(name, false)
	if err != nil {
		return nil, err
	}
	p, err := n.rt.P2P()
	if err == nil {
		err = p.Connect(ctx, serve.AddrInfo())
	}
	if err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// hostRun runs a command on the host in dir (env nil: this process's); a failure carries its
// output.
func hostRun(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// ratio prints one figure against its baseline.
func ratio(what string, got time.Duration, baseline string, base time.Duration, goal string) {
	line := fmt.Sprintf("%-34s %9s   %-38s %9s   ratio %.2f", what, secs(got), baseline, secs(base), got.Seconds()/base.Seconds())
	if goal != "" {
		line += "   (goal " + goal + ")"
	}
	fmt.Println(line)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func main() {
	sandbox.Init()
	runs := flag.Int("runs", 3, "runs per timed build (the median is printed)")
	only := flag.String("only", "", "run only this toolchain's measurements")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/toolchain: needs root (sandbox namespaces, FUSE)")
		os.Exit(1)
	}
	if _, err := os.Stat(filepath.Join(*examplesDir, "lua", "lua.json")); err != nil {
		fmt.Fprintln(os.Stderr, "bench/toolchain: run it from the repository root, or give -examples:", err)
		os.Exit(1)
	}
	work, err := os.MkdirTemp("", "bench-toolchain-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/toolchain:", err)
		os.Exit(1)
	}
	_ = os.Chmod(work, 0o755)
	c := &config{runs: *runs, work: work}
	sort.SliceStable(measurements, func(i, j int) bool { return measurements[i].name < measurements[j].name })
	fmt.Printf("bench/toolchain: load average %s at start\n", loadavg())
	failed := false
	for _, m := range measurements {
		if *only != "" && m.name != *only {
			continue
		}
		fmt.Printf("== %s\n", m.name)
		if err := m.run(c); err != nil {
			fmt.Fprintf(os.Stderr, "bench/toolchain %s: %v\n", m.name, err)
			failed = true
		}
	}
	fmt.Printf("bench/toolchain: load average %s at end\n", loadavg())
	builder.RemoveAll(work)
	if failed {
		os.Exit(1)
	}
}
