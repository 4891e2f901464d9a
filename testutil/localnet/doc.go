// Package localnet drives scripts/localnet.sh from Go tests: it builds buildchaind once,
// starts an N-authority network of real processes in a temp dir on its own port block, runs
// CLI commands against it, waits for heights and transactions, and queries REST, gRPC and
// CometBFT RPC. Every end-to-end test of the chain (tests/e2e) uses it.
//
//	net := localnet.Start(t, localnet.Options{Nodes: 4})
//	res := net.Tx(t, "bank", "send", "alice", net.Addr(t, "bob"), "1000ubct")
//	var bal banktypes.QueryBalanceResponse
//	net.REST(t, 1, "/cosmos/bank/v1beta1/balances/"+net.Addr(t, "bob")+"/by_denom?denom=ubct", &bal)
//
// Gov proposals pass with PassProposal (expedited, every authority's vote broadcast at once;
// UpdateParamsByGov for one module's params); TxsAtOnce sends many txs without a block between
// them, for checks that must all land before a chain deadline.
//
// It drives scripts/localnet.sh, so it needs bash, jq and curl (scripts/deps.sh installs them).
package localnet
