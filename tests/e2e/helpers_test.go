package e2e

import (
	"context"
	"testing"
	"time"

	sdkmath "cosmossdk.io/math"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/cosmos/cosmos-sdk/codec"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/buildchain/buildchain/testutil/localnet"
)

const denom = "ubct"

// balanceREST returns addr's ubct balance from node i's REST server.
func balanceREST(t *testing.T, net *localnet.Net, i int, addr string) sdkmath.Int {
	t.Helper()
	var out struct {
		Balance struct {
			Denom  string `json:"denom"`
			Amount string `json:"amount"`
		} `json:"balance"`
	}
	net.REST(t, i, "/cosmos/bank/v1beta1/balances/"+addr+"/by_denom?denom="+denom, &out)
	amt, ok := sdkmath.NewIntFromString(out.Balance.Amount)
	require.True(t, ok, "balance amount %q", out.Balance.Amount)
	return amt
}

// allBalancesREST returns every balance of addr from node i.
func allBalancesREST(t *testing.T, net *localnet.Net, i int, addr string) string {
	t.Helper()
	var out struct {
		Balances []struct {
			Denom  string `json:"denom"`
			Amount string `json:"amount"`
		} `json:"balances"`
	}
	net.REST(t, i, "/cosmos/bank/v1beta1/balances/"+addr, &out)
	s := ""
	for _, b := range out.Balances {
		s += b.Amount + b.Denom + ","
	}
	return s
}

func grpcCodec() grpc.CallOption {
	return grpc.ForceCodec(codec.NewProtoCodec(codectypes.NewInterfaceRegistry()).GRPCCodec())
}

// balanceGRPC returns addr's ubct balance from node i's gRPC server.
func balanceGRPC(t *testing.T, net *localnet.Net, i int, addr string) sdkmath.Int {
	t.Helper()
	conn := net.GRPC(t, i, grpcCodec())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := banktypes.NewQueryClient(conn).Balance(ctx, &banktypes.QueryBalanceRequest{Address: addr, Denom: denom})
	require.NoError(t, err)
	return res.Balance.Amount
}

// eventually polls f until it returns true or the timeout passes. Nodes apply a block at
// slightly different times, so a query on another node than the tx's may lag a block.
func eventually(t *testing.T, timeout time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}
