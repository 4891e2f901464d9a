// Package cmd builds the buildchaind cobra command tree: the SDK's node, genesis, keys, tx and
// query commands, autocli commands generated from the modules' services, and the commands
// other packages contribute through extraCommands.
package cmd
