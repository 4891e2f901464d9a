package cmd

import "github.com/spf13/cobra"

// extraCommands returns the command trees of other packages (store, build, node...) that the
// root command adds. The lead owns this file and wires them here.
func extraCommands() []*cobra.Command { return nil }
