// Package chainclient talks to a buildchain node for the sidecar and the
// publisher/user commands: it signs and broadcasts transactions with the SDK's
// tx factory and a keyring (no shelling out to the CLI), waits for them to be
// included, queries x/claims over gRPC (ABCI queries through the CometBFT
// RPC), and decodes x/claims' typed events. Claims implements sidecar.Claims.
package chainclient
