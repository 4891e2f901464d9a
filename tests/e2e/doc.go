// Package e2e holds the slow end-to-end tests: real buildchaind processes on loopback started
// by scripts/localnet.sh (through testutil/localnet), driven with the real CLI and queried over
// REST, gRPC and CometBFT RPC. Run it alone: go test -p 1 ./tests/e2e/... (make test-e2e).
//
// Adding a test: start a network of your own with localnet.Start(t, localnet.Options{Nodes: n});
// it gets a fresh directory and port block and is stopped when the test ends (node logs are
// printed on failure). The binary is built once per run from this checkout, or taken from
// $BUILDCHAIND. Keys alice, bob, carol and val0..val(n-1) are funded and live in node 0's
// keyring. Skip under -short. Helpers: net.Tx (broadcast and wait for the block), net.CLI,
// net.REST, net.GRPC, net.WaitHeight, net.Kill/StartNode, net.AppHashAt.
//
// Chain deadlines (voting periods, report and reveal windows, market phases) run in blocks,
// while each CLI run costs seconds on a loaded 2-core machine: txs that must land before one
// go out together with net.TxsAtOnce (one block, not one each), a gov change passes with
// net.PassProposal (expedited, every authority's vote at once), and a deadline a test needs
// to outlast is set well above what its steps take at a load of 25 (docs/reliability.md §Flaky
// tests has the cases that failed).
package e2e
