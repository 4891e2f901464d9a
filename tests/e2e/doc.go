// Package e2e holds the slow end-to-end tests: real buildchaind processes on loopback started
// by scripts/localnet.sh (through testutil/localnet), driven with the real CLI and queried over
// REST, gRPC and CometBFT RPC. Run it alone: go test -p 1 ./tests/e2e/...
package e2e
