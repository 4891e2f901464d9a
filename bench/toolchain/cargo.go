package main

// `buildchaind cargo build` (node/cargobuild, docs/cargo.md) on examples/rust-cli, one run each
// (a cold build is minutes on a loaded machine):
//
//   - a cold build (a store with the rust and gcc toolchains imported, no unit built yet) vs a
//     cold `cargo build --offline` of the same crate with Debian's cargo and rustc on the host
//     (goal <= 1.5x);
//   - a second developer (another store and checkout path, the toolchains copied) whose every
//     unit is substituted from a peer that built them vs the same cold `cargo build` (goal
//     <= 0.5x). The peer's outputs stand for the chain's verified ones (the answer to "verified
//     output of this derivation?" comes from the peer's cache, not a chain query: tests/e2e
//     TestCargoBuildPublish does it with the chain); the outputs are fetched over libp2p/bitswap
//     and hash-checked as in a real substitution.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/cargobuild"
	"github.com/buildchain/buildchain/node/runtime"
	_ "github.com/buildchain/buildchain/node/toolchain/rusttoolchain"
)

func init() { register("cargo", benchCargo) }

// cargoNode is a node with the toolchains cargo build needs.
type cargoNode struct {
	*node
	rust, gcc, bb cid.Cid
}

func (n *cargoNode) build(ctx context.Context, dir string, build cargobuild.BuildFunc) (*cargobuild.Stats, time.Duration, error) {
	start := time.Now()
	st, err := cargobuild.Run(ctx, cargobuild.Config{Store: n.store, Builder: n.b, Rust: n.rust, GCC: n.gcc, Bootstrap: n.bb,
		Dir: dir, Args: []string{"--offline"}, Build: build})
	return st, time.Since(start), err
}

// rustCLI copies examples/rust-cli to a fresh checkout under the scratch directory.
func rustCLI(c *config, name string) (string, error) {
	dst := filepath.Join(c.work, name)
	return dst, hostRun(context.Background(), "", nil, "cp", "-r", filepath.Join(*examplesDir, "rust-cli"), dst)
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

// copyStorePath gives m store path c of n with its references, as the same import there would.
func copyStorePath(ctx context.Context, n, m *node, c cid.Cid) error {
	r, w := io.Pipe()
	go func() { w.CloseWithError(n.store.ExportCAR(ctx, c, w)) }()
	if _, err := m.store.ImportCAR(ctx, r); err != nil {
		return err
	}
	refs, err := n.b.References(ctx, c)
	if err != nil {
		return err
	}
	return m.b.RecordRefs(c, refs)
}

func benchCargo(c *config) error {
	ctx := context.Background()
	// Baseline: Debian's cargo and rustc on the host, cold (a fresh target directory).
	base, err := rustCLI(c, "baseline")
	if err != nil {
		return err
	}
	start := time.Now()
	if err := hostRun(ctx, base, append(os.Environ(), "RUSTC=/usr/bin/rustc", "CARGO_INCREMENTAL=0"), cargobuild.DebianCargo, "build", "--offline"); err != nil {
		return err
	}
	plain := time.Since(start)

	na, err := c.newNode("cargo-a", false)
	if err != nil {
		return err
	}
	defer na.close()
	a := &cargoNode{node: na}
	var tookRust, tookGCC time.Duration
	if a.rust, tookRust, err = a.importToolchain(ctx, "rust"); err != nil {
		return err
	}
	if a.gcc, tookGCC, err = a.importToolchain(ctx, "gcc"); err != nil {
		return err
	}
	if a.bb, err = a.b.Bootstrap(); err != nil {
		return err
	}
	fmt.Printf("toolchains rust %s, gcc %s imported in %s (not part of any figure)\n", a.rust, a.gcc, secs(tookRust+tookGCC))
	dirA, err := rustCLI(c, "a-src")
	if err != nil {
		return err
	}
	stA, cold, err := a.build(ctx, dirA, nil)
	if err != nil {
		return err
	}
	fmt.Printf("rust-cli: %d units\n", len(stA.Units))
	ratio("cold cargo build, units sandboxed", cold, "cold cargo build --offline on the host", plain, "<= 1.5")

	// A second developer: another store and checkout; every unit substituted from peer a.
	nb, err := c.newPeer(ctx, "cargo-b", a.node)
	if err != nil {
		return err
	}
	defer nb.close()
	b := &cargoNode{node: nb, rust: a.rust, gcc: a.gcc, bb: a.bb}
	for _, tc := range []cid.Cid{a.bb, a.gcc, a.rust} {
		if err := copyStorePath(ctx, a.node, b.node, tc); err != nil {
			return err
		}
	}
	sub := &runtime.Substitution{Chain: peerCache{a.b}, Log: io.Discard, Fetch: b.rt.Fetch}
	defer sub.Release()
	build := func(ctx context.Context, drv cid.Cid) (*builder.Result, bool, error) {
		res, err := b.b.Build(ctx, drv, builder.Options{Substitute: sub.Substitute})
		return res, res != nil && res.Substituted, err
	}
	dirB, err := rustCLI(c, "b-src")
	if err != nil {
		return err
	}
	stB, subst, err := b.build(ctx, dirB, build)
	if err != nil {
		return err
	}
	if stB.Substituted != len(stB.Units) {
		return fmt.Errorf("second developer: %d of %d units substituted (%d built)", stB.Substituted, len(stB.Units), stB.Built)
	}
	ratio("2nd developer, every unit substituted", subst, "cold cargo build --offline on the host", plain, "<= 0.5")
	return nil
}
