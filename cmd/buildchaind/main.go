package main

import (
	"fmt"
	"os"

	svrcmd "github.com/cosmos/cosmos-sdk/server/cmd"

	"github.com/buildchain/buildchain/app"
	"github.com/buildchain/buildchain/cmd/buildchaind/cmd"
	"github.com/buildchain/buildchain/node/sandbox"
)

func main() {
	// Builds re-execute this binary as the sandbox's init; in that role it must do
	// nothing else, so this comes before any command parsing.
	sandbox.Init()
	rootCmd := cmd.NewRootCmd()
	if err := svrcmd.Execute(rootCmd, "", app.DefaultNodeHome); err != nil {
		fmt.Fprintln(rootCmd.OutOrStderr(), err)
		os.Exit(1)
	}
}
