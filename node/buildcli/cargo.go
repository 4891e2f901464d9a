package buildcli

import (
	"context"
	"fmt"
	"io"
	"os"

	cid "github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/cargobuild"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
)

func cargoCmd(network *Network) *cobra.Command {
	c := &cobra.Command{Use: "cargo", Short: "Cargo builds through the store: every rustc call and build script a cached derivation"}
	build := &cobra.Command{
		Use:   "build [--release] [-- CARGO-BUILD-ARGS]",
		Short: "cargo build, each unit a derivation built in the sandbox with the rust and gcc toolchains (see node/cargobuild)",
		Long: "Asks a cargo chosen by path (--cargo, default Debian's /usr/bin/cargo) for the build plan of the crate in the\n" +
			"current directory and builds every unit (each crate's rustc call, each build script's compile and run) as a\n" +
			"derivation in the sandbox with the rust and gcc toolchains (imported with `bootstrap --toolchain`, done here\n" +
			"if missing), or takes it from the builder's cache or, verified on chain, from peers. The artifacts are written\n" +
			"where cargo writes them (target/debug/NAME). A progress line shows units done.",
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			noSub, _ := f.GetBool("no-substitute")
			substitute := network.enabled() && !noSub
			// The units' own output goes to their logs; a failed unit's is shown in the error.
			e, err := openWith(cmd, builder.Config{Log: io.Discard}, network.open(substitute))
			if err != nil {
				return err
			}
			defer e.Close()
			ctx := cmd.Context()
			tcs := map[string]cid.Cid{}
			for _, name := range []string{"rust", "gcc"} {
				if tcs[name], err = ensureToolchain(ctx, e, name, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			bb, err := e.b.Bootstrap()
			if err != nil {
				if bb, err = e.b.ImportBusybox(ctx, "", storefs.CurrentUser()); err != nil {
					return err
				}
			}
			dir, err := os.Getwd()
			if err != nil {
				return err
			}
			var cargoArgs []string
			if rel, _ := f.GetBool("release"); rel {
				cargoArgs = append(cargoArgs, "--release")
			}
			cargoArgs = append(cargoArgs, args...)
			cargo, _ := f.GetString("cargo")
			jobs, _ := f.GetInt("jobs")
			cfg := cargobuild.Config{Store: e.store, Builder: e.b, Rust: tcs["rust"], GCC: tcs["gcc"], Bootstrap: bb,
				Dir: dir, Cargo: cargo, Args: cargoArgs, Jobs: jobs, Progress: cmd.ErrOrStderr(),
				Build: func(ctx context.Context, drv cid.Cid) (*builder.Result, bool, error) {
					res, err := e.rt.Build(ctx, drv, builder.Options{}, substitute)
					return res, res != nil && res.Substituted, err
				}}
			stats, err := cargobuild.Run(ctx, cfg)
			if stats != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "units: %d (%d cached, %d substituted, %d built)\n",
					len(stats.Units), stats.Cached, stats.Substituted, stats.Built)
				for _, bin := range stats.Binaries {
					fmt.Fprintln(cmd.OutOrStdout(), bin)
				}
			}
			return err
		},
	}
	f := build.Flags()
	f.Bool("release", false, "build with the release profile (as cargo build --release)")
	f.String("cargo", cargobuild.DebianCargo, "the cargo that plans the build (its rustc must be the rust toolchain's release)")
	f.IntP("jobs", "j", 0, "units built at once (default: the number of CPUs)")
	network.addFlags(build, "never take a verified unit output from the network; build locally")
	c.AddCommand(build)
	return c
}

// ensureToolchain returns the recorded store root of toolchain name, importing it first if
// this builder has none.
func ensureToolchain(ctx context.Context, e *env, name string, log io.Writer) (cid.Cid, error) {
	tcs, err := e.b.Toolchains()
	if err != nil {
		return cid.Undef, err
	}
	if c, ok := tcs[name]; ok {
		return c, nil
	}
	return toolchain.Import(ctx, name, storefs.CurrentUser(), &toolchain.Env{Store: e.store, Builder: e.b, Log: log})
}
