package nodecli

import "github.com/spf13/cobra"

// Commands returns the top-level commands node (run, status), publish,
// verify, install, go (build), cargo (build) and nix (import, serve, key), for the
// buildchaind root command.
func Commands() []*cobra.Command {
	return []*cobra.Command{NodeCmd(), PublishCmd(), VerifyCmd(), InstallCmd(), GoCmd(), CargoCmd(), NixCmd()}
}
