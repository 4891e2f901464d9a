package buildcli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/gobuild"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
)

func goCmd() *cobra.Command {
	c := &cobra.Command{Use: "go", Short: "Go builds through the store: every compile and link a cached derivation"}
	build := &cobra.Command{
		Use:   "build [-o OUT] [-- GO-BUILD-FLAGS] PACKAGES",
		Short: "go build -trimpath, each step a derivation built in the sandbox with the go toolchain (see node/gobuild)",
		Long: "Runs the go toolchain's go command (imported with `bootstrap --toolchain go`, done here if missing) in the\n" +
			"current module with -trimpath; every compile, asm and link step it runs is a derivation, built in the\n" +
			"sandbox or taken from the builder's cache. The binary is byte-identical to go build -trimpath with the\n" +
			"same toolchain (CGO_ENABLED=0). A progress line shows steps done / cached / built.",
		RunE: func(cmd *cobra.Command, args []string) error {
			// The steps' own output goes to their logs; a failed step's is shown by the go command.
			e, err := open(cmd, builder.Config{Log: io.Discard})
			if err != nil {
				return err
			}
			defer e.Close()
			ctx := cmd.Context()
			tcs, err := e.b.Toolchains()
			if err != nil {
				return err
			}
			tc, ok := tcs["go"]
			if !ok {
				if tc, err = toolchain.Import(ctx, "go", storefs.CurrentUser(), &toolchain.Env{Store: e.store, Builder: e.b, Log: cmd.ErrOrStderr()}); err != nil {
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
			var goArgs []string
			if out, _ := cmd.Flags().GetString("o"); out != "" {
				abs, err := filepath.Abs(out)
				if err != nil {
					return err
				}
				goArgs = append(goArgs, "-o", abs)
			}
			goArgs = append(goArgs, args...)
			stats, err := gobuild.Run(ctx, gobuild.Config{Store: e.store, Builder: e.b, Toolchain: tc, Bootstrap: bb,
				Dir: dir, Args: goArgs, Progress: cmd.ErrOrStderr(), Log: cmd.ErrOrStderr()})
			if stats != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "\nsteps: %d (%d cached, %d built)\n", len(stats.Steps), stats.Cached, stats.Built)
			}
			return err
		},
	}
	build.Flags().StringP("o", "o", "", "write the binary here (as go build -o)")
	c.AddCommand(build)
	return c
}
