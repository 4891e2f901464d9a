// Command buildchaind is the buildchain node and CLI: chain node (init, start, genesis, export),
// client (keys, tx, query, status) and, through extraCommands, the store, build and node tools.
package main
