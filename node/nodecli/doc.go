// Package nodecli holds the node's cobra commands of issue 7: `node run` (the
// build validator's sidecar), `node status`, and the publisher and user flows
// `publish`, `verify` and `install`; `go build` (node/gobuild with the network cache, and
// --publish: one claim per step it built, batched in a few txs); plus Network, the network
// cache that `build` uses (docs/ARCHITECTURE.md §Node) unless --no-substitute. Each
// command opens one node/runtime.Runtime from its flags. Commands run under the
// buildchaind root command, whose client context (--home, --node, --from,
// --keyring-backend, --chain-id) they use to reach the chain.
package nodecli
