// Command gotoolchain measures the go toolchain in the store (issue 11; bench/gotoolchain has the C one). Each toolchain's file
// registers its benchmarks (go.go: the go toolchain and examples/go-cli; others add theirs in
// their own file with register), and every figure is printed with the baseline it is measured
// against in the same run:
//
//   - go/import: `bootstrap --toolchain go` into a fresh store vs a plain extraction of the
//     same zip (the floor: read, inflate, write the files);
//   - go/build: examples/go-cli built in the sandbox (a fresh derivation each time, so nothing
//     is cached; cold GOCACHE in /build) vs the same go build run directly on the host with the
//     same toolchain and the same environment (goal ≤ 1.15×);
//   - go/substitute: a store that lacks the toolchain gets it from a peer over libp2p/bitswap
//     on loopback (every block hash-checked) vs importing it locally, each followed by the
//     go-cli build that needs it.
//
// Run as root: go run ./bench/gotoolchain [-only go] [-n 3]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
)

// bench is one group of measurements; it prints its own figures.
type bench struct {
	name string
	run  func(ctx context.Context, w *work) error
}

var benches []bench

// register adds a benchmark group (from an init function of its file).
func register(name string, run func(ctx context.Context, w *work) error) {
	benches = append(benches, bench{name, run})
}

// work is the shared state of a run: a scratch directory and the flags.
type work struct {
	dir string
	n   int
}

// node is a store with its builder, in its own directory.
type node struct {
	dir   string
	store *storefs.Store
	b     *builder.Builder
}

func (w *work) newNode(name string) (*node, error) {
	dir, err := os.MkdirTemp(w.dir, name+"-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s, err := storefs.Open(filepath.Join(dir, "ipfs"))
	if err != nil {
		return nil, err
	}
	no := false
	b, err := builder.New(s, builder.Config{StateDir: filepath.Join(dir, "builds"), Timeout: time.Hour, UseFUSE: &no})
	if err != nil {
		s.Close()
		return nil, err
	}
	return &node{dir: dir, store: s, b: b}, nil
}

func (n *node) close() { n.store.Close() }

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// ratio prints one figure against its baseline.
func ratio(what string, got time.Duration, baseline string, base time.Duration, goal string) {
	line := fmt.Sprintf("%-28s %9s   %-34s %9s   ratio %.2f", what, secs(got), baseline, secs(base), got.Seconds()/base.Seconds())
	if goal != "" {
		line += "   (goal " + goal + ")"
	}
	fmt.Println(line)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func main() {
	sandbox.Init()
	only := flag.String("only", "", "run only this group ("+names()+")")
	n := flag.Int("n", 3, "repetitions of each timed build (median)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/gotoolchain: needs root (sandbox namespaces)")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "bench-toolchain-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer builder.RemoveAll(dir)
	w := &work{dir: dir, n: *n}
	fmt.Printf("bench/gotoolchain: load average %s at start\n", loadavg())
	failed := false
	for _, b := range benches {
		if *only != "" && b.name != *only {
			continue
		}
		fmt.Printf("== %s\n", b.name)
		if err := b.run(context.Background(), w); err != nil {
			fmt.Fprintf(os.Stderr, "bench/gotoolchain %s: %v\n", b.name, err)
			failed = true
		}
	}
	fmt.Printf("bench/gotoolchain: load average %s at end\n", loadavg())
	if failed {
		os.Exit(1)
	}
}

func names() string {
	var out []string
	for _, b := range benches {
		out = append(out, b.name)
	}
	return strings.Join(out, ", ")
}
