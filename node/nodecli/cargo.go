package nodecli

import (
	"context"
	"fmt"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/cargobuild"
	// cargo build imports these toolchains on first use.
	_ "github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
	_ "github.com/buildchain/buildchain/node/toolchain/rusttoolchain"
)

// CargoCmd returns `cargo build`: node/cargobuild with the network cache (units the chain
// verified are substituted from peers) and --publish (claims for the units it built).
func CargoCmd() *cobra.Command {
	c := &cobra.Command{Use: "cargo", Short: "Cargo builds through the store: every rustc call and build script a cached, verifiable derivation"}
	build := &cobra.Command{
		Use:   "build [--release] [-C DIR] [--publish] [--peer ADDR] [-- CARGO-BUILD-ARGS]",
		Short: "cargo build, each unit a derivation: cached, substituted from peers when the chain verified it, or built in the sandbox",
		Long: `Asks a cargo chosen by path (--cargo, default Debian's /usr/bin/cargo; never the first one on PATH)
for the build plan of the crate in the current directory (or -C DIR) and builds every unit (each
crate's rustc call, each build script's compile and run) as a derivation in the sandbox with the
rust and gcc toolchains (imported with ` + "`bootstrap --toolchain`" + `, done here if missing; see
node/cargobuild and docs/cargo.md). A unit is taken from the local cache, else substituted (the
chain at --node holds a VALID claim for its derivation: the output is fetched from peers, every
block hash-checked), else built, as many at once as cores. The artifacts are written where cargo
writes them (target/debug/NAME); the binaries' paths are printed. A progress line shows units done;
the warnings of the workspace's own packages (rustc's, build scripts' cargo:warning) follow it.
--publish then claims every unit that was not substituted and has no claim of that output yet
(--from signs; a few txs of up to 40 claims), serves their blocks to the assigned builders and,
with --wait, prints the claims' progress until every verdict. A build that fails publishes nothing.`,
		RunE: runCargoBuild,
	}
	f := build.Flags()
	f.Bool("release", false, "build with the release profile (as cargo build --release)")
	f.String("cargo", cargobuild.DebianCargo, "the cargo that plans the build (see docs/cargo.md for which cargos work)")
	f.IntP("jobs", "j", 0, "units built at once (default: the number of CPUs)")
	addPublishFlags(build, "units")
	c.AddCommand(build)
	return c
}

func runCargoBuild(cmd *cobra.Command, args []string) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stderr := cmd.ErrOrStderr()
	n, err := openBuildNetwork(ctx, cmd, "units", "rust", "gcc")
	if err != nil {
		return err
	}
	defer n.Close()
	rt, f, tcs, bb, dir := n.rt, cmd.Flags(), n.tcs, n.bb, n.dir
	var cargoArgs []string
	if rel, _ := f.GetBool("release"); rel {
		cargoArgs = append(cargoArgs, "--release")
	}
	cargoArgs = append(cargoArgs, args...)
	cargo, _ := f.GetString("cargo")
	jobs, _ := f.GetInt("jobs")
	sub := n.substitute()
	cfg := cargobuild.Config{Store: rt.Store(), Builder: rt.Builder(), Rust: tcs["rust"], GCC: tcs["gcc"], Bootstrap: bb,
		Dir: dir, Cargo: cargo, Args: cargoArgs, Jobs: jobs, Progress: stderr,
		Build: func(ctx context.Context, drv cid.Cid) (*builder.Result, bool, error) {
			res, err := rt.Builder().Build(ctx, drv, builder.Options{Substitute: sub})
			return res, res != nil && res.Substituted, err
		}}
	start := time.Now()
	stats, err := cargobuild.Run(ctx, cfg)
	if stats != nil {
		for _, w := range stats.Warnings {
			fmt.Fprintln(stderr, w)
		}
		fmt.Fprintf(stderr, "%s in %s\n", stats.Line(), time.Since(start).Round(time.Millisecond))
		for _, bin := range stats.Binaries {
			fmt.Fprintln(cmd.OutOrStdout(), bin)
		}
	}
	if err != nil {
		return n.failed(err)
	}
	var steps []publishStep
	for _, u := range stats.Units {
		steps = append(steps, publishStep{Name: u.String(), Derivation: u.Derivation, Output: u.Output, Substituted: u.Substituted})
	}
	return n.publish(ctx, cmd, steps)
}
