// Command buildchaind is the buildchain node and CLI: chain node (init, start, genesis, export),
// client (keys, tx, query, status) and, through extraCommands, the store, build and node tools.
package main

import (
	"fmt"
	"os"

	svrcmd "github.com/cosmos/cosmos-sdk/server/cmd"

	"github.com/buildchain/buildchain/app"
	"github.com/buildchain/buildchain/cmd/buildchaind/cmd"
)

func main() {
	rootCmd := cmd.NewRootCmd()
	if err := svrcmd.Execute(rootCmd, "", app.DefaultNodeHome); err != nil {
		fmt.Fprintln(rootCmd.OutOrStderr(), err)
		os.Exit(1)
	}
}
