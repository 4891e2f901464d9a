// Command cargo measures `buildchaind cargo build` (issue 17) on examples/rust-cli, each figure
// as a ratio against its baseline measured in the same run (one run each):
//
//   - a cold build (a store with the toolchains imported, no unit built yet) vs a cold
//     `cargo build --offline` of the same crate with Debian's cargo and rustc on the host
//     (goal ≤ 1.5×);
//   - a second developer (another store and checkout path, the toolchains imported) whose every
//     unit is substituted from a peer that built them vs the same cold `cargo build` (goal
//     ≤ 0.5×). The peer's outputs stand for the chain's verified ones (the answer to
//     "verified output of this derivation?" comes from the peer's cache, not a chain query);
//     the outputs are fetched over libp2p/bitswap and hash-checked as in a real substitution.
//
// Run as root after `make deps`: go run ./bench/cargo [-examples examples]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/cargobuild"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	_ "github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
	_ "github.com/buildchain/buildchain/node/toolchain/rusttoolchain"
)

var examplesDir = flag.String("examples", "examples", "the repository's examples directory")

type node struct {
	rt            *runtime.Runtime
	store         *storefs.Store
	b             *builder.Builder
	rust, gcc, bb cid.Cid
}

// newNode opens a node runtime (store, builder, p2p on loopback started on first use,
// bootstrapped to boot's host) at work/name.
func newNode(work, name string, boot *node) (*node, error) {
	home := filepath.Join(work, name)
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	var peers []string
	if boot != nil {
		n, err := boot.rt.P2P()
		if err != nil {
			return nil, err
		}
		for _, a := range n.Addrs() {
			peers = append(peers, a.String())
		}
	}
	fuse := false
	rt, err := runtime.Open(runtime.Config{StoreRoot: filepath.Join(home, "ipfs"),
		Builder: builder.Config{Timeout: time.Hour, UseFUSE: &fuse},
		P2P: &p2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: peers,
			ReprovideInterval: -1, ReannounceInterval: -1}})
	if err != nil {
		return nil, err
	}
	return &node{rt: rt, store: rt.Store(), b: rt.Builder()}, nil
}

func (n *node) importToolchains(ctx context.Context) error {
	env := &toolchain.Env{Store: n.store, Builder: n.b}
	var err error
	if n.rust, err = toolchain.Import(ctx, "rust", "", env); err != nil {
		return err
	}
	if n.gcc, err = toolchain.Import(ctx, "gcc", "", env); err != nil {
		return err
	}
	n.bb, err = n.b.Bootstrap()
	return err
}

// copyToolchains gives m n's toolchains, as the same import on another machine would.
func (n *node) copyToolchains(ctx context.Context, m *node) error {
	for _, c := range []cid.Cid{n.bb, n.gcc, n.rust} {
		r, w := io.Pipe()
		go func() { w.CloseWithError(n.store.ExportCAR(ctx, c, w)) }()
		if _, err := m.store.ImportCAR(ctx, r); err != nil {
			return err
		}
		refs, err := n.b.References(ctx, c)
		if err != nil {
			return err
		}
		if err := m.b.RecordRefs(c, refs); err != nil {
			return err
		}
	}
	m.rust, m.gcc, m.bb = n.rust, n.gcc, n.bb
	return nil
}

func (n *node) cargo(ctx context.Context, dir string, build cargobuild.BuildFunc) (*cargobuild.Stats, time.Duration, error) {
	start := time.Now()
	st, err := cargobuild.Run(ctx, cargobuild.Config{Store: n.store, Builder: n.b, Rust: n.rust, GCC: n.gcc, Bootstrap: n.bb,
		Dir: dir, Args: []string{"--offline"}, Build: build})
	return st, time.Since(start), err
}

func checkout(work, name string) (string, error) {
	dst := filepath.Join(work, name)
	out, err := exec.Command("cp", "-r", filepath.Join(*examplesDir, "rust-cli"), dst).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cp: %v: %s", err, out)
	}
	return dst, nil
}

// peerCache answers "verified output of this derivation?" from the peer's builder cache.
type peerCache struct{ b *builder.Builder }

func (p peerCache) VerifiedOutput(_ context.Context, drv cid.Cid) (string, uint64, bool, error) {
	out, ok := p.b.CachedOutput(drv)
	if !ok {
		return "", 0, false, nil
	}
	return out.String(), 0, true, nil
}

func ratio(what string, d time.Duration, base string, bd time.Duration, goal string) {
	fmt.Printf("%-58s %8.2f s\n%-58s %8.2f s\n  ratio %.2f× (goal %s)\n", what, d.Seconds(), base, bd.Seconds(), d.Seconds()/bd.Seconds(), goal)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func run(ctx context.Context, work string) error {
	// Baseline: Debian's cargo and rustc on the host, cold (fresh target directory).
	base, err := checkout(work, "baseline")
	if err != nil {
		return err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, cargobuild.DebianCargo, "build", "--offline")
	cmd.Dir = base
	cmd.Env = append(os.Environ(), "RUSTC=/usr/bin/rustc", "CARGO_INCREMENTAL=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cargo build: %v\n%s", err, out)
	}
	plain := time.Since(start)

	a, err := newNode(work, "a", nil)
	if err != nil {
		return err
	}
	defer a.rt.Close()
	start = time.Now()
	if err := a.importToolchains(ctx); err != nil {
		return err
	}
	fmt.Printf("toolchains rust %s, gcc %s imported in %.0f s (not part of any figure)\n", a.rust, a.gcc, time.Since(start).Seconds())
	dirA, err := checkout(work, "a-src")
	if err != nil {
		return err
	}
	stA, cold, err := a.cargo(ctx, dirA, nil)
	if err != nil {
		return err
	}
	fmt.Printf("rust-cli: %d units\n", len(stA.Units))
	ratio("cold buildchaind cargo build (every unit a sandboxed build)", cold, "cold cargo build --offline on the host", plain, "≤ 1.5")

	// A second developer: another store and checkout; every unit substituted from peer a.
	b, err := newNode(work, "b", a)
	if err != nil {
		return err
	}
	defer b.rt.Close()
	if err := a.copyToolchains(ctx, b); err != nil {
		return err
	}
	sub := &runtime.Substitution{Chain: peerCache{a.b}, Log: io.Discard, Fetch: b.rt.Fetch}
	defer sub.Release()
	build := func(ctx context.Context, drv cid.Cid) (*builder.Result, bool, error) {
		res, err := b.b.Build(ctx, drv, builder.Options{Substitute: sub.Substitute})
		return res, res != nil && res.Substituted, err
	}
	dirB, err := checkout(work, "b-src")
	if err != nil {
		return err
	}
	stB, subst, err := b.cargo(ctx, dirB, build)
	if err != nil {
		return err
	}
	if stB.Substituted != len(stB.Units) {
		return fmt.Errorf("second developer: %d of %d units substituted (%d built)", stB.Substituted, len(stB.Units), stB.Built)
	}
	ratio("second developer, every unit substituted from a peer", subst, "cold cargo build --offline on the host", plain, "≤ 0.5")
	return nil
}

func main() {
	sandbox.Init()
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/cargo: needs root (sandbox namespaces)")
		os.Exit(1)
	}
	work, err := os.MkdirTemp("", "bench-cargo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/cargo:", err)
		os.Exit(1)
	}
	_ = os.Chmod(work, 0o755)
	fmt.Printf("bench/cargo (load average %s)\n", loadavg())
	err = run(context.Background(), work)
	builder.RemoveAll(work)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/cargo:", err)
		os.Exit(1)
	}
}
