package nodecli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/gobuild"
)

// GoCmd returns `go build`: node/gobuild with the network cache (substitutes from peers for
// the steps the chain verified) and --publish (claims for the steps it built).
func GoCmd() *cobra.Command {
	c := &cobra.Command{Use: "go", Short: "Go builds through the store: every compile and link a cached, verifiable derivation"}
	build := &cobra.Command{
		Use:   "build [-o OUT] [-v] [-C DIR] [--publish] [--peer ADDR] [-- GO-BUILD-FLAGS] PACKAGES",
		Short: "go build -trimpath, each step a derivation: cached, substituted from peers when the chain verified it, or built in the sandbox",
		Long: `Runs the go toolchain's go command (imported with ` + "`bootstrap --toolchain go`" + `, done here if missing)
in the module with -trimpath and CGO_ENABLED=0; every compile, asm and link step is a derivation
(see node/gobuild). A step is taken from the local cache, else substituted (the chain at --node
holds a VALID claim for its derivation: the output is fetched from peers, every block
hash-checked), else built in the sandbox, as many at once as cores. The binary is byte-identical
to go build -trimpath with the same toolchain. A progress line shows steps done / cached /
substituted / built. --publish then claims every step that was not substituted and has no claim
of that output yet (--from signs; a few txs of up to 40 claims), serves their blocks to the
assigned builders and, with --wait, prints the claims' progress until every verdict.`,
		RunE: runGoBuild,
	}
	f := build.Flags()
	f.StringP("o", "o", "", "write the binary here (as go build -o)")
	addPublishFlags(build, "steps")
	f.Lookup("verbose").Usage += "; after the build, where the time went (the build's parts, the steps' time by kind)"
	c.AddCommand(build)
	return c
}

func runGoBuild(cmd *cobra.Command, args []string) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stderr := cmd.ErrOrStderr()
	n, err := openBuildNetwork(ctx, cmd, "steps", "go")
	if err != nil {
		return err
	}
	defer n.Close()
	rt, f, tc, bb, dir := n.rt, cmd.Flags(), n.tcs["go"], n.bb, n.dir
	var goArgs []string
	if out, _ := f.GetString("o"); out != "" {
		abs, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		goArgs = append(goArgs, "-o", abs)
	}
	goArgs = append(goArgs, args...)

	cfg := gobuild.Config{Store: rt.Store(), Builder: rt.Builder(), Toolchain: tc, Bootstrap: bb, Dir: dir, Args: goArgs,
		Progress: stderr, Log: stderr}
	cfg.Substitute = n.substitute()
	start := time.Now()
	stats, err := gobuild.Run(ctx, cfg)
	if stats != nil {
		fmt.Fprintf(stderr, "\n%s in %s; %d packages from the go command's cache\n", stats.Line(), time.Since(start).Round(time.Millisecond), stats.GoCacheHits)
		if v, _ := f.GetBool("verbose"); v {
			fmt.Fprintln(stderr, stats.TimeLine())
		}
	}
	if err != nil {
		return n.failed(err)
	}
	var steps []publishStep
	for _, st := range stats.Steps {
		steps = append(steps, publishStep{Name: st.Tool + " " + st.ImportPath, Derivation: st.Derivation, Output: st.Output, Substituted: st.Substituted})
	}
	return n.publish(ctx, cmd, steps)
}
