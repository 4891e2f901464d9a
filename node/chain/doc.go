// Package chain talks to a buildchain node for the sidecar and the
// publisher/user commands: it signs and broadcasts transactions with the SDK's
// tx factory and a keyring (no shelling out to the CLI), waits for them to be
// included, queries x/claims and x/market over gRPC (ABCI queries through the
// CometBFT RPC), and decodes their typed events into its own types
// (Assignment, RoundKey, MarketOpened). Claims and Markets implement the
// sidecar's interfaces of the same names; this package imports nothing of
// the node above it (docs/ARCHITECTURE.md).
package chain
