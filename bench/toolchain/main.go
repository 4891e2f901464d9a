// Command toolchain measures the toolchains of `buildchaind bootstrap --toolchain NAME` (issue
// 11), each figure as a ratio against a baseline measured in the same run. Each toolchain's
// measurements live in their own file and register themselves (c.go: gcc; others beside it).
//
// Run as root after `make deps`: go run ./bench/toolchain [-runs 3] [-only gcc]
package main

import (
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

// A measurement: name (a toolchain) and a function printing its figures.
type measurement struct {
	name string
	run  func(c *config) error
}

var measurements []measurement

func register(name string, run func(c *config) error) {
	measurements = append(measurements, measurement{name, run})
}

type config struct {
	runs int
	work string // scratch directory, removed at the end
}

// freshBuilder is an empty store and builder under the scratch directory (inputs bound from
// materialised copies unless fuse; with fuse the caller mounts the store).
func (c *config) freshBuilder(name string, fuse bool) (*storefs.Store, *builder.Builder, error) {
	home := filepath.Join(c.work, name)
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, nil, err
	}
	s, err := storefs.Open(filepath.Join(home, "ipfs"))
	if err != nil {
		return nil, nil, err
	}
	b, err := builder.New(s, builder.Config{StateDir: filepath.Join(home, "builds"), Timeout: time.Hour, UseFUSE: &fuse})
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, b, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

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
	work, err := os.MkdirTemp("", "bench-toolchain-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/toolchain:", err)
		os.Exit(1)
	}
	_ = os.Chmod(work, 0o755)
	c := &config{runs: *runs, work: work}
	sort.SliceStable(measurements, func(i, j int) bool { return measurements[i].name < measurements[j].name })
	fmt.Printf("bench/toolchain (load average %s)\n", loadavg())
	failed := false
	for _, m := range measurements {
		if *only != "" && m.name != *only {
			continue
		}
		if err := m.run(c); err != nil {
			fmt.Fprintf(os.Stderr, "bench/toolchain %s: %v\n", m.name, err)
			failed = true
		}
	}
	builder.RemoveAll(work)
	if failed {
		os.Exit(1)
	}
}
