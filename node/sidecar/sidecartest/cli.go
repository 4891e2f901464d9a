package sidecartest

import (
	"bytes"
	"context"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/nodecli"
)

// CLI runs one of nodecli's commands in-process (as under the buildchaind
// root command) with the client context of key through authority node and
// home as --home.
func (e *Env) CLI(node int, key, home string, args ...string) (stdout, stderr string, err error) {
	cctx := e.ClientCtx(node, key).WithHomeDir(home)
	root := &cobra.Command{Use: "buildchaind", SilenceUsage: true, SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return client.SetCmdClientContextHandler(cctx, cmd)
		}}
	root.AddCommand(nodecli.Commands()...)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}
