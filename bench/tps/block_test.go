package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"cosmossdk.io/log"
	sdkmath "cosmossdk.io/math"
	cmtdb "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	blockidx "github.com/cometbft/cometbft/state/indexer/block/kv"
	"github.com/cometbft/cometbft/state/txindex"
	"github.com/cometbft/cometbft/state/txindex/kv"
	cmttypes "github.com/cometbft/cometbft/types"
	dbm "github.com/cosmos/cosmos-db"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/buildchain/buildchain/app"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	valkeeper "github.com/buildchain/buildchain/x/validators/keeper"
	valtypes "github.com/buildchain/buildchain/x/validators/types"
)

// blockEnv is one real app on an in-memory DB with funded senders and two registered build
// validators: the chain side of the localnet bench without CometBFT, for profiling.
type blockEnv struct {
	app     *app.App
	senders []*secp256k1.PrivKey
	nums    []uint64
	seqs    []uint64
	sink    sdk.AccAddress
	height  int64
	chainID string
	// index and blockIndex are CometBFT's kv indexers on goleveldb, as a node with the
	// default tx_index.indexer = "kv" runs them after every block.
	index      *kv.TxIndex
	blockIndex *blockidx.BlockerIndexer
}

func newBlockEnv(tb testing.TB, accounts int) *blockEnv {
	tb.Helper()
	const chainID = "buildchain-bench"
	a := app.New(log.NewNopLogger(), dbm.NewMemDB(), nil, true, simtestutil.NewAppOptionsWithFlagHome(tb.TempDir()),
		baseapp.SetChainID(chainID))
	valSet, err := simtestutil.CreateRandomValidatorSet()
	if err != nil {
		tb.Fatal(err)
	}
	idb, err := cmtdb.NewGoLevelDB("tx_index", tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { idb.Close() })
	e := &blockEnv{app: a, chainID: chainID, index: kv.NewTxIndex(idb), blockIndex: blockidx.New(cmtdb.NewPrefixDB(idb, []byte("block_events")))}
	var accs []authtypes.GenesisAccount
	var bals []banktypes.Balance
	fund := func(k *secp256k1.PrivKey) {
		addr := sdk.AccAddress(k.PubKey().Address())
		accs = append(accs, authtypes.NewBaseAccount(addr, k.PubKey(), uint64(len(accs)), 0))
		bals = append(bals, banktypes.Balance{Address: addr.String(), Coins: sdk.NewCoins(sdk.NewCoin(denom, sdkmath.NewInt(1e15)))})
	}
	for range accounts {
		k := secp256k1.GenPrivKey()
		e.senders = append(e.senders, k)
		fund(k)
	}
	builders := []*secp256k1.PrivKey{secp256k1.GenPrivKey(), secp256k1.GenPrivKey()}
	for _, k := range builders {
		fund(k)
	}
	e.sink = sdk.AccAddress(secp256k1.GenPrivKey().PubKey().Address())
	gs, err := simtestutil.GenesisStateWithValSet(a.AppCodec(), a.DefaultGenesis(), valSet, accs, bals...)
	if err != nil {
		tb.Fatal(err)
	}
	bz, err := json.Marshal(gs)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := a.InitChain(&abci.RequestInitChain{ChainId: chainID, AppStateBytes: bz,
		ConsensusParams: simtestutil.DefaultConsensusParams, InitialHeight: 1}); err != nil {
		tb.Fatal(err)
	}
	e.height = 1
	e.finalize(tb, nil)
	ctx := a.NewUncachedContext(false, cmtproto.Header{Height: e.height})
	srv := valkeeper.NewMsgServerImpl(a.ValidatorsKeeper)
	for _, k := range builders {
		if _, err := srv.RegisterValidator(ctx, &valtypes.MsgRegisterValidator{Operator: sdk.AccAddress(k.PubKey().Address()).String(),
			Systems: []string{"x86_64-linux"}, Bond: valtypes.DefaultMinBond}); err != nil {
			tb.Fatal(err)
		}
	}
	e.finalize(tb, nil)
	for i, k := range e.senders {
		acc := a.AccountKeeper.GetAccount(ctx, sdk.AccAddress(k.PubKey().Address()))
		e.nums = append(e.nums, acc.GetAccountNumber())
		e.seqs = append(e.seqs, acc.GetSequence())
		_ = i
	}
	return e
}

// costs is the time one node spends on a block's txs, by stage.
type costs struct{ check, finalize, index time.Duration }

func (c *costs) min(o costs) {
	c.check = min(c.check, o.check)
	c.finalize = min(c.finalize, o.finalize)
	c.index = min(c.index, o.index)
}

func (c costs) total() time.Duration { return c.check + c.finalize + c.index }

// block runs (and measures in CPU time) what every node does with a block's txs: CheckTx of each (when it reached the
// mempool), FinalizeBlock and Commit, then the tx and block-event indexers.
func (e *blockEnv) block(tb testing.TB, txs [][]byte) costs {
	tb.Helper()
	var c costs
	start := cpuTime(tb)
	for i, tx := range txs {
		res, err := e.app.CheckTx(&abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
		if err != nil || res.Code != 0 {
			tb.Fatalf("CheckTx of tx %d: %v %s", i, err, res.GetLog())
		}
	}
	c.check = cpuTime(tb) - start
	height := e.height
	start = cpuTime(tb)
	res := e.finalizeResults(tb, txs)
	c.finalize = cpuTime(tb) - start
	start = cpuTime(tb)
	batch := txindex.NewBatch(int64(len(txs)))
	for i, tx := range txs {
		if err := batch.Add(&abci.TxResult{Height: height, Index: uint32(i), Tx: tx, Result: *res.TxResults[i]}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := e.index.AddBatch(batch); err != nil {
		tb.Fatal(err)
	}
	if err := e.blockIndex.Index(cmttypes.EventDataNewBlockEvents{Height: height, Events: res.Events, NumTxs: int64(len(txs))}); err != nil {
		tb.Fatal(err)
	}
	c.index = cpuTime(tb) - start
	return c
}

// cpuTime is the CPU time (user + system, all threads: GC included) this process used so
// far. The stages are measured in CPU time, not wall time, so other load on the machine does
// not inflate them.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (e *blockEnv) finalize(tb testing.TB, txs [][]byte) {
	tb.Helper()
	e.finalizeResults(tb, txs)
}

func (e *blockEnv) finalizeResults(tb testing.TB, txs [][]byte) *abci.ResponseFinalizeBlock {
	tb.Helper()
	res, err := e.app.FinalizeBlock(&abci.RequestFinalizeBlock{Height: e.height, Txs: txs, Time: time.Unix(1_700_000_000+e.height, 0)})
	if err != nil {
		tb.Fatal(err)
	}
	for i, r := range res.TxResults {
		if r.Code != 0 {
			tb.Fatalf("tx %d of block %d failed: %s", i, e.height, r.Log)
		}
	}
	if _, err := e.app.Commit(); err != nil {
		tb.Fatal(err)
	}
	e.height++
	return res
}

// signBlock returns perAccount txs of every sender (sends or claims), signed with the next
// sequences, in the order a proposer would see them.
func (e *blockEnv) signBlock(tb testing.TB, claims bool, perAccount int, rng *rand.Rand) [][]byte {
	tb.Helper()
	txCfg := e.app.TxConfig()
	deposit := claimstypes.DefaultMinDeposit
	var txs [][]byte
	for j := 0; j < perAccount; j++ {
		for i, k := range e.senders {
			addr := sdk.AccAddress(k.PubKey().Address())
			var msg sdk.Msg = banktypes.NewMsgSend(addr, e.sink, sdk.NewCoins(sdk.NewInt64Coin(denom, 1)))
			gas := uint64(200_000)
			if claims {
				msg = randClaim(rng, addr, deposit)
				gas = 400_000
			}
			tx, err := simtestutil.GenSignedMockTx(rng, txCfg, []sdk.Msg{msg}, sdk.NewCoins(), gas, e.chainID,
				[]uint64{e.nums[i]}, []uint64{e.seqs[i]}, k)
			if err != nil {
				tb.Fatal(err)
			}
			bz, err := txCfg.TxEncoder()(tx)
			if err != nil {
				tb.Fatal(err)
			}
			txs = append(txs, bz)
			e.seqs[i]++
		}
	}
	return txs
}

// BenchmarkNodeWork measures the work each node of the localnet bench does per tx: CheckTx
// when the tx enters its mempool, FinalizeBlock + Commit, and CometBFT's kv indexers, for a
// block of bank sends and one of claim submissions (same senders, same block size). It reports
// per-tx costs by stage and the ratio of the totals (sends' time ÷ claims' time, i.e.
// claims/s ÷ sends/s as bench/tps prints it when the nodes are CPU-bound). Consensus, gossip
// and recheck are not included.
//
//	go test ./bench/tps -run '^$' -bench NodeWork -benchtime 5x [-cpuprofile cpu.out]
func BenchmarkNodeWork(b *testing.B) {
	const accounts, perAccount = 40, 25 // 1000-tx blocks
	e := newBlockEnv(b, accounts)
	rng := rand.New(rand.NewSource(1))
	// Each stage's minimum over the iterations: other load on the machine only ever adds.
	var send, claim costs
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		sends := e.signBlock(b, false, perAccount, rng)
		claims := e.signBlock(b, true, perAccount, rng)
		b.StartTimer()
		// Labelled, so a -cpuprofile can be split by kind (pprof -tagfocus kind=claim).
		var s, c costs
		pprof.Do(context.Background(), pprof.Labels("kind", "send"), func(context.Context) { s = e.block(b, sends) })
		pprof.Do(context.Background(), pprof.Labels("kind", "claim"), func(context.Context) { c = e.block(b, claims) })
		if i == 0 {
			send, claim = s, c
		} else {
			send.min(s)
			claim.min(c)
		}
	}
	n := float64(accounts * perAccount)
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
	b.ReportMetric(us(send.total()), "µs/send")
	b.ReportMetric(us(claim.total()), "µs/claim")
	b.ReportMetric(float64(send.total())/float64(claim.total()), "claims/sends")
	for _, r := range []struct {
		name string
		c    costs
	}{{"send ", send}, {"claim", claim}} {
		fmt.Printf("%s per tx (best of %d blocks): CheckTx %4.0f µs, FinalizeBlock+Commit %4.0f µs, indexers %4.0f µs: total %4.0f µs\n",
			r.name, b.N, us(r.c.check), us(r.c.finalize), us(r.c.index), us(r.c.total()))
	}
	fmt.Printf("claim throughput ÷ send throughput (CPU-bound node) = %.2f\n", float64(send.total())/float64(claim.total()))
}
