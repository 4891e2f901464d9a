// Command tps measures, on the same 4-authority localnet in one run, how many claim
// submissions (x/claims MsgSubmitClaim: deposit + claim fee locked, claim indexed and queued,
// then assigned to a bond-weighted build validator in EndBlock) the chain commits per second,
// against the baseline of plain bank sends (MsgSend), and prints the ratio.
// Goals (issue 5): claims/s ÷ sends/s ≥ 0.5 and ≥ 300 claims/s.
//
// Method: a fresh localnet (scripts/localnet.sh with the binary `make build` makes, real
// buildchaind processes, CometBFT on loopback, block time 1 s as in the production config,
// no builder sidecars) with two build validators registered by the bench. -accounts fresh
// accounts are funded. Then -rounds rounds each run a bank phase and a claim phase: every
// account signs -txs transactions (not timed: signing is the client's cost), then all accounts
// broadcast concurrently (broadcast_tx_sync, spread over the nodes). A phase's throughput is
// end to end, as a client sees it: its successful txs divided by the time from the first
// broadcast until node0's app has committed the block with the last of them (CheckTx, gossip,
// consensus, execution and commit all included; commits are detected by polling ABCI Info
// every 20 ms and reading each new block once, so the client takes almost no CPU from the
// nodes). Results are checked; failed or dropped txs are reported and not counted. The
// medians of the rounds are compared, so load from elsewhere and block-boundary luck hit both
// kinds alike. (A 2000-tx phase lasts ~5 s, 2-3 blocks: whether its last few txs make the
// big block or wait a whole block time for the next moves one phase's figure by ±20 %.)
//
// Where the time goes (profiles: -cpuprofile DIR fetches every node's CPU profile per phase;
// go test ./bench/tps -bench NodeWork splits one node's work per tx by stage): with 4 nodes on
// 2 CPUs the network is CPU-bound. Every tx costs each node a CheckTx (about 60 % of it
// secp256k1 signature verification), a recheck after each block it waits in the mempool,
// FinalizeBlock (the ante handler verifies the signature again) + Commit, and the kv tx/block
// indexers. What made claims cost ~1.8× a send and was removed: a spendable-balance scan and
// a second bank transfer per claim (now one transfer of deposit + fee; the block's fees go to
// the fee collector in one EndBlock transfer), reflective JSON encoding of the two per-claim
// typed events (now built directly, byte-identical), builder sidecars sharing the CPUs, and
// the bench's own /tx polling (800 requests/s against node0). Both kinds also lost txs to
// CometBFT 0.38 holding a sender's txs out of order in a mempool (tx k+1 failed, later ones
// were evicted; claims more, as their longer blocks made more CheckTx calls race);
// PrepareProposal now sorts each sender's txs by sequence. A claim still writes ~8 new
// state entries (claim, its indexes, its assignment) and indexes ~2× a send's event
// attributes, so it costs ~1.3× a send per node. Build option measured, not default: -tags
// libsecp256k1_sdk (cgo signature verification: 56 µs instead of 195 µs, twice per tx and
// node) takes ~280 µs off every tx's ~0.7-1 ms per node, for both kinds.
//
// Usage: go run ./bench/tps [-nodes 4] [-accounts 40] [-txs 50] [-rounds 5] [-port-base 37600]
// [-timeout-commit 1s] [-tags BUILD_TAGS] [-cpuprofile DIR] [-v] [-keep]
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cosmossdk.io/log"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/crypto"
	"github.com/cosmos/cosmos-sdk/crypto/keyring"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	cryptotypes "github.com/cosmos/cosmos-sdk/crypto/types"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/buildchain/buildchain/app"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	valtypes "github.com/buildchain/buildchain/x/validators/types"
)

const denom = "ubct"

var (
	nodesFlag    = flag.Int("nodes", 4, "authorities in the localnet")
	accountsFlag = flag.Int("accounts", 40, "concurrent sending accounts")
	txsFlag      = flag.Int("txs", 50, "transactions per account and kind")
	portFlag     = flag.Int("port-base", 37600, "localnet port base")
	commitFlag   = flag.String("timeout-commit", "1s", "CometBFT block time")
	keepFlag     = flag.Bool("keep", false, "keep the localnet directory")
	roundsFlag   = flag.Int("rounds", 5, "alternating bank/claim rounds; the medians are compared")
	tagsFlag     = flag.String("tags", "", "extra go build -tags for buildchaind (e.g. libsecp256k1_sdk: cgo signature verification)")
	profFlag     = flag.String("cpuprofile", "", "write every node's CPU profile of each phase to DIR/r<round>-<kind>-node<I>.pprof")
	verboseFlag  = flag.Bool("v", false, "also show when node0 stored each block (consensus decided, before execution)")
	profSecs     = flag.Int("profile-seconds", 12, "length of the -cpuprofile profiles from the start of a phase")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tps:", err)
		os.Exit(1)
	}
}

type bench struct {
	root, dir, bin string
	env            []string
	txCfg          client.TxConfig
	chainID        string
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

func run() error {
	b := &bench{root: repoRoot(), chainID: "buildchain-1"}
	dir, err := os.MkdirTemp("", "bench-tps-")
	if err != nil {
		return err
	}
	b.dir = dir
	if !*keepFlag {
		defer os.RemoveAll(dir)
	}
	b.bin = filepath.Join(dir, "buildchaind")
	// The binary `make build` makes (same flags), so the bench measures what is deployed.
	fmt.Println("building buildchaind (make build)...")
	build := exec.Command("make", "--no-print-directory", "build", "BINDIR="+dir)
	build.Dir, build.Stdout, build.Stderr = b.root, os.Stdout, os.Stderr
	build.Env = os.Environ()
	if *tagsFlag != "" {
		build.Env = append(build.Env, "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -tags="+*tagsFlag))
	}
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	b.env = append(os.Environ(), "LOCALNET_DIR="+filepath.Join(dir, "net"), "LOCALNET_PORT_BASE="+strconv.Itoa(*portFlag),
		"LOCALNET_TIMEOUT_COMMIT="+*commitFlag, "LOCALNET_CHAIN_ID="+b.chainID, "BUILDCHAIND="+b.bin,
		// The bench registers its own build validators; builder sidecars would only compete
		// with the authorities for this machine's CPUs.
		"LOCALNET_BUILDERS=0")
	fmt.Printf("starting a %d-authority localnet...\n", *nodesFlag)
	if out, err := b.script("start", strconv.Itoa(*nodesFlag)); err != nil {
		return fmt.Errorf("localnet start: %w\n%s", err, out)
	}
	defer func() {
		if out, err := b.script("stop"); err != nil {
			fmt.Fprintf(os.Stderr, "localnet stop: %v\n%s", err, out)
		}
	}()

	tmp := app.New(log.NewNopLogger(), dbm.NewMemDB(), nil, false, simtestutil.NewAppOptionsWithFlagHome(filepath.Join(dir, "tmpapp")))
	b.txCfg = tmp.TxConfig()
	kr, err := keyring.New(sdk.KeyringServiceName(), keyring.BackendTest, filepath.Join(dir, "net", "node0"), nil, tmp.AppCodec())
	if err != nil {
		return err
	}
	armor, err := kr.ExportPrivKeyArmor("alice", "bench")
	if err != nil {
		return fmt.Errorf("alice's key: %w", err)
	}
	alicePriv, _, err := crypto.UnarmorDecryptPrivKey(armor, "bench")
	if err != nil {
		return err
	}

	// Fresh senders plus two build validators, funded by alice in one multi-send.
	n := *accountsFlag
	senders := make([]*secp256k1.PrivKey, n)
	for i := range senders {
		senders[i] = secp256k1.GenPrivKey()
	}
	builders := []*secp256k1.PrivKey{secp256k1.GenPrivKey(), secp256k1.GenPrivKey()}
	claimParams, err := b.claimsParams()
	if err != nil {
		return err
	}
	perTx := claimParams.MinDeposit.Amount.Add(claimParams.ClaimFee.Amount).AddRaw(1000)
	each := sdk.NewCoins(sdk.NewCoin(denom, perTx.MulRaw(int64(*txsFlag**roundsFlag)+1)))
	builderFunds := sdk.NewCoins(sdk.NewCoin(denom, valtypes.DefaultMinBond.Amount.MulRaw(2)))
	var outputs []banktypes.Output
	total := sdk.NewCoins()
	for _, k := range senders {
		outputs = append(outputs, banktypes.NewOutput(sdk.AccAddress(k.PubKey().Address()), each))
		total = total.Add(each...)
	}
	for _, k := range builders {
		outputs = append(outputs, banktypes.NewOutput(sdk.AccAddress(k.PubKey().Address()), builderFunds))
		total = total.Add(builderFunds...)
	}
	aliceAddr := sdk.AccAddress(alicePriv.PubKey().Address())
	if err := b.sendAndWait(alicePriv, banktypes.NewMsgMultiSend(banktypes.NewInput(aliceAddr, total), outputs), 500_000+uint64(len(outputs))*80_000); err != nil {
		return fmt.Errorf("funding: %w", err)
	}
	for _, k := range builders {
		msg := &valtypes.MsgRegisterValidator{Operator: sdk.AccAddress(k.PubKey().Address()).String(),
			Systems: []string{"x86_64-linux"}, Bond: valtypes.DefaultMinBond}
		if err := b.sendAndWait(k, msg, 400_000); err != nil {
			return fmt.Errorf("registering a build validator: %w", err)
		}
	}
	fmt.Printf("%d senders funded, 2 build validators registered\n", n)

	// Rounds alternate bank and claim phases on the same network, so load from elsewhere on
	// the machine and luck with block boundaries (a phase's last few txs missing a block
	// costs a whole block time) hit both kinds alike; the medians are compared. Each phase's
	// txs are signed just before it, from the accounts' current sequences (signing is the
	// client's cost, not the chain's, and a tx that failed in an earlier phase does not
	// invalidate later ones).
	rng := rand.New(rand.NewSource(1))
	signPhase := func(claimsPhase bool) ([][][]byte, error) {
		// Let the previous phase settle first: a tx that failed in a block leaves the
		// mempool caches, and a peer still holding it can bring it back once it has become
		// valid, after the phase ended.
		for settle := time.Now(); ; {
			if empty, err := b.mempoolsEmpty(); err == nil && empty {
				break
			}
			if time.Since(settle) > 30*time.Second {
				return nil, fmt.Errorf("mempools not empty 30s after a phase")
			}
			time.Sleep(200 * time.Millisecond)
		}
		txs := make([][][]byte, n)
		for i, k := range senders {
			addr := sdk.AccAddress(k.PubKey().Address())
			num, seq, err := b.account(addr.String())
			if err != nil {
				return nil, err
			}
			for j := 0; j < *txsFlag; j++ {
				var msg sdk.Msg = banktypes.NewMsgSend(addr, aliceAddr, sdk.NewCoins(sdk.NewInt64Coin(denom, 1)))
				gas := uint64(200_000)
				if claimsPhase {
					msg = randClaim(rng, addr, claimParams.MinDeposit)
					gas = 400_000
				}
				bz, err := b.sign(rng, k, msg, num, seq+uint64(j), gas)
				if err != nil {
					return nil, err
				}
				txs[i] = append(txs[i], bz)
			}
		}
		return txs, nil
	}
	var bank, claims []float64
	for r := 0; r < *roundsFlag; r++ {
		for _, claimsPhase := range []bool{false, true} {
			txs, err := signPhase(claimsPhase)
			if err != nil {
				return err
			}
			name, tag := "bank send (MsgSend)", "bank"
			if claimsPhase {
				name, tag = "claim submit (MsgSubmitClaim)", "claim"
			}
			tps, err := b.phase(fmt.Sprintf("round %d/%d: %s", r+1, *roundsFlag, name), fmt.Sprintf("r%d-%s", r+1, tag), txs)
			if err != nil {
				return err
			}
			if claimsPhase {
				claims = append(claims, tps)
			} else {
				bank = append(bank, tps)
			}
		}
	}
	mb, mc := median(bank), median(claims)
	ratio := mc / mb
	fmt.Printf("\nrounds: bank sends %s tx/s; claims %s tx/s\n", list(bank), list(claims))
	fmt.Printf("RESULT claims %.1f tx/s, bank sends %.1f tx/s (medians of %d rounds): ratio %.2f (goal >= 0.5: %s); claims/s goal >= 300: %s\n",
		mc, mb, *roundsFlag, ratio, verdict(ratio >= 0.5), verdict(mc >= 300))
	fmt.Printf("(%d authorities on %d CPUs, %d accounts × %d txs per kind and round, block time %s, build tags %q)\n",
		*nodesFlag, runtime.NumCPU(), n, *txsFlag, *commitFlag, *tagsFlag)
	return nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func list(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.1f", x))
	}
	return strings.Join(parts, ", ")
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// randClaim is a blind claim (x/claims/README.md §Blind rounds) of a random output about a
// random derivation, as `publish` sends it.
func randClaim(r *rand.Rand, publisher sdk.AccAddress, deposit sdk.Coin) *claimstypes.MsgSubmitClaim {
	drv := randCID(r, cid.DagJSON)
	salt := make([]byte, claimstypes.MinSaltLen)
	r.Read(salt)
	return &claimstypes.MsgSubmitClaim{
		Publisher: publisher.String(), DerivationCid: drv, System: "x86_64-linux", Deposit: deposit,
		OutputCommitment: claimstypes.ClaimCommitment(publisher.String(), drv, randCID(r, cid.DagProtobuf), salt),
	}
}

func randCID(r *rand.Rand, codec uint64) string {
	buf := make([]byte, 32)
	r.Read(buf)
	sum, err := mh.Sum(buf, mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(codec, sum).String()
}

func (b *bench) script(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(b.root, "scripts", "localnet.sh"), args...)
	cmd.Env = b.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (b *bench) rpc(node int) string {
	return fmt.Sprintf("http://127.0.0.1:%d", *portFlag+10*node+1)
}

func (b *bench) rest() string { return fmt.Sprintf("http://127.0.0.1:%d", *portFlag+2) }

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, buf.String())
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (b *bench) claimsParams() (claimstypes.Params, error) {
	var out struct {
		Params struct {
			MinDeposit sdk.Coin `json:"min_deposit"`
			ClaimFee   sdk.Coin `json:"claim_fee"`
		} `json:"params"`
	}
	if err := getJSON(b.rest()+"/buildchain/claims/v1/params", &out); err != nil {
		return claimstypes.Params{}, err
	}
	return claimstypes.Params{MinDeposit: out.Params.MinDeposit, ClaimFee: out.Params.ClaimFee}, nil
}

func (b *bench) account(addr string) (num, seq uint64, err error) {
	var out struct {
		Account struct {
			AccountNumber string `json:"account_number"`
			Sequence      string `json:"sequence"`
		} `json:"account"`
	}
	if err := getJSON(b.rest()+"/cosmos/auth/v1beta1/accounts/"+addr, &out); err != nil {
		return 0, 0, err
	}
	num, _ = strconv.ParseUint(out.Account.AccountNumber, 10, 64)
	seq, _ = strconv.ParseUint(out.Account.Sequence, 10, 64)
	return num, seq, nil
}

// sign signs msg; the mock tx's memo is random, from r, so txs with equal messages and
// sequences (a bank send re-signed after a failure) still differ.
func (b *bench) sign(r *rand.Rand, k cryptotypes.PrivKey, msg sdk.Msg, num, seq, gas uint64) ([]byte, error) {
	tx, err := simtestutil.GenSignedMockTx(r, b.txCfg, []sdk.Msg{msg}, sdk.NewCoins(), gas, b.chainID,
		[]uint64{num}, []uint64{seq}, k)
	if err != nil {
		return nil, err
	}
	return b.txCfg.TxEncoder()(tx)
}

type rpcResult struct {
	Result struct {
		Code uint32 `json:"code"`
		Log  string `json:"log"`
		Hash string `json:"hash"`
	} `json:"result"`
	Error *struct {
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

func (b *bench) broadcast(node int, tx []byte) (string, error) {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "broadcast_tx_sync",
		"params": map[string]string{"tx": base64.StdEncoding.EncodeToString(tx)}})
	resp, err := http.Post(b.rpc(node), "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out rpcResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if out.Error != nil {
		return "", fmt.Errorf("rpc: %s %s", out.Error.Message, out.Error.Data)
	}
	if out.Result.Code != 0 {
		return "", fmt.Errorf("CheckTx code %d: %s", out.Result.Code, out.Result.Log)
	}
	return out.Result.Hash, nil
}

// committed returns the tx's block height once it is in a block.
func (b *bench) committed(hash string) (int64, uint32, string, bool) {
	var out struct {
		Result struct {
			Height   string `json:"height"`
			TxResult struct {
				Code uint32 `json:"code"`
				Log  string `json:"log"`
			} `json:"tx_result"`
		} `json:"result"`
	}
	if err := getJSON(b.rpc(0)+"/tx?hash=0x"+hash, &out); err != nil || out.Result.Height == "" {
		return 0, 0, "", false
	}
	h, _ := strconv.ParseInt(out.Result.Height, 10, 64)
	return h, out.Result.TxResult.Code, out.Result.TxResult.Log, true
}

func (b *bench) sendAndWait(k cryptotypes.PrivKey, msg sdk.Msg, gas uint64) error {
	addr := sdk.AccAddress(k.PubKey().Address()).String()
	num, seq, err := b.account(addr)
	if err != nil {
		// A fresh account that only received coins has no number until it exists in state.
		return err
	}
	bz, err := b.sign(rand.New(rand.NewSource(int64(seq))), k, msg, num, seq, gas)
	if err != nil {
		return err
	}
	hash, err := b.broadcast(0, bz)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, code, log, ok := b.committed(hash); ok {
			if code != 0 {
				return fmt.Errorf("tx failed: %s", log)
			}
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("tx %s not committed", hash)
}

// phase broadcasts every account's txs concurrently and returns the committed tx/s.
func (b *bench) phase(name, tag string, txs [][][]byte) (float64, error) {
	fmt.Printf("\n== %s: %d accounts × %d txs\n", name, len(txs), len(txs[0]))
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		hashes []string
		errs   []error
	)
	stopProf := b.profile(tag)
	defer stopProf()
	watch, err := b.watchCommits()
	if err != nil {
		return 0, err
	}
	defer watch.close()
	start := time.Now()
	for i := range txs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for _, tx := range txs[i] {
				h, err := b.broadcast(i%*nodesFlag, tx)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					hashes = append(hashes, h)
				}
				mu.Unlock()
				if err != nil {
					return // later sequences would fail too
				}
			}
		}(i)
	}
	wg.Wait()
	fmt.Printf("broadcast %d txs in %.1fs (%d refused)\n", len(hashes), time.Since(start).Seconds(), len(errs))
	// The phase ends when node0's app has committed (polled every 20 ms) a block with the last
	// of the phase's txs. (Every tx, not each account's last: a proposer can order an account's
	// txs wrongly, and the tx it left out comes in a later block.)
	pending := map[string]bool{}
	for _, h := range hashes {
		pending[h] = true
	}
	end, dropped, err := watch.untilCommitted(pending, 180*time.Second)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if dropped > 0 {
		fmt.Printf("%d txs dropped from the mempools (never committed; not counted)\n", dropped)
	}
	elapsed := end.Sub(start).Seconds()
	watch.printTimeline(start)
	if len(errs) > 0 {
		fmt.Printf("first refusal: %v\n", errs[0])
	}
	if len(hashes) == 0 {
		return 0, fmt.Errorf("%s: nothing broadcast", name)
	}
	// Check every committed tx's result; find the block range.
	var lo, hi int64 = 1 << 62, 0
	failed := 0
	for _, h := range hashes {
		if pending[h] {
			continue // dropped
		}
		deadline := time.Now().Add(120 * time.Second)
		for {
			height, code, log, ok := b.committed(h)
			if ok {
				lo, hi = min(lo, height), max(hi, height)
				if code != 0 {
					failed++
					if failed == 1 {
						fmt.Printf("first failed tx: %s\n", log)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s: tx %s not committed after 120s", name, h)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Count our successful txs only (blocks also carry the proposer's VRF beacon). Failed or
	// dropped txs (see untilCommitted) are reported and not counted.
	n := len(hashes) - failed - dropped
	tps := float64(n) / elapsed
	fmt.Printf("committed %d successful txs (%d failed in DeliverTx) in blocks %d..%d, %.2fs from the first broadcast to the last commit: %.1f tx/s\n",
		n, failed, lo, hi, elapsed, tps)
	if (failed+dropped)*20 > len(hashes) {
		return 0, fmt.Errorf("%s: %d of %d txs failed or were dropped", name, failed+dropped, len(hashes))
	}
	return tps, nil
}

// profile starts fetching every node's CPU profile into DIR/<tag>-node<I>.pprof (CometBFT's pprof_laddr, which
// localnet.sh sets to port +4) for -profile-seconds; the returned func waits for them.
func (b *bench) profile(tag string) func() {
	if *profFlag == "" {
		return func() {}
	}
	if err := os.MkdirAll(*profFlag, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return func() {}
	}
	var wg sync.WaitGroup
	for i := 0; i < *nodesFlag; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", *portFlag+10*i+4, *profSecs)
			resp, err := http.Get(url)
			if err != nil {
				fmt.Fprintln(os.Stderr, "profile:", err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(*profFlag, fmt.Sprintf("%s-node%d.pprof", tag, i)))
			if err != nil {
				fmt.Fprintln(os.Stderr, "profile:", err)
				return
			}
			defer f.Close()
			if _, err := f.ReadFrom(resp.Body); err != nil {
				fmt.Fprintln(os.Stderr, "profile:", err)
			}
		}(i)
	}
	return wg.Wait
}

// commitWatch records when node0's application committed each height (ABCI Info's
// last_block_height, polled every 20 ms: one cheap request, so the measuring client takes
// almost no CPU from the nodes it measures).
type commitWatch struct {
	b      *bench
	mu     sync.Mutex
	first  int64 // the height committed when the watch started
	latest int64
	seen   map[int64]time.Time
	// decided: when node0's block store had the height (consensus done, before execution).
	decided map[int64]time.Time
	stored  int64
	txs     map[int64]int
	done    chan struct{}
	wg      sync.WaitGroup
}

func (b *bench) appHeight() (int64, error) {
	var out struct {
		Result struct {
			Response struct {
				LastBlockHeight string `json:"last_block_height"`
			} `json:"response"`
		} `json:"result"`
	}
	if err := getJSON(b.rpc(0)+"/abci_info", &out); err != nil {
		return 0, err
	}
	return strconv.ParseInt(out.Result.Response.LastBlockHeight, 10, 64)
}

func (b *bench) watchCommits() (*commitWatch, error) {
	h, err := b.appHeight()
	if err != nil {
		return nil, err
	}
	w := &commitWatch{b: b, first: h, latest: h, seen: map[int64]time.Time{}, decided: map[int64]time.Time{}, stored: h, txs: map[int64]int{}, done: make(chan struct{})}
	// Separate pollers: ABCI Info waits for the app (CometBFT's local client serialises every
	// ABCI call), /status does not.
	w.poll(func(now time.Time) {
		h, err := b.appHeight()
		if err != nil {
			return
		}
		w.mu.Lock()
		for ; w.latest < h; w.latest++ {
			w.seen[w.latest+1] = now
		}
		w.mu.Unlock()
	})
	if *verboseFlag {
		w.poll(func(now time.Time) {
			var st struct {
				Result struct {
					SyncInfo struct {
						LatestBlockHeight string `json:"latest_block_height"`
					} `json:"sync_info"`
				} `json:"result"`
			}
			if getJSON(b.rpc(0)+"/status", &st) != nil {
				return
			}
			sh, _ := strconv.ParseInt(st.Result.SyncInfo.LatestBlockHeight, 10, 64)
			w.mu.Lock()
			for ; w.stored < sh; w.stored++ {
				w.decided[w.stored+1] = now
			}
			w.mu.Unlock()
		})
	}
	return w, nil
}

// poll calls fn every 20 ms with the time the poll started, until close.
func (w *commitWatch) poll(fn func(time.Time)) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case now := <-t.C:
				fn(now)
			}
		}
	}()
}

func (w *commitWatch) close() {
	close(w.done)
	w.wg.Wait()
}

// untilCommitted waits until every hash in pending is in a committed block and returns when
// that block was committed.
func (w *commitWatch) untilCommitted(pending map[string]bool, timeout time.Duration) (end time.Time, dropped int, err error) {
	deadline := time.Now().Add(timeout)
	next := w.first + 1
	var last time.Time // commit of the latest block with one of pending's txs
	scan := func(upTo int64) error {
		for ; next <= upTo; next++ {
			hashes, err := w.b.blockTxHashes(next)
			if err != nil {
				return err
			}
			w.mu.Lock()
			w.txs[next] = len(hashes)
			at := w.seen[next]
			w.mu.Unlock()
			for _, h := range hashes {
				if pending[h] {
					delete(pending, h)
					last = at
				}
			}
		}
		return nil
	}
	lastMempoolCheck := time.Now()
	for {
		w.mu.Lock()
		latest := w.latest
		w.mu.Unlock()
		if err := scan(latest); err != nil {
			return time.Time{}, 0, err
		}
		if len(pending) == 0 {
			return last, 0, nil
		}
		// A tx can also be dropped: CometBFT 0.38 may reorder one sender's txs in a mempool
		// (CheckTx callbacks run outside the ABCI lock); had a proposer included tx k+1
		// before k, k+1 would fail and the sender's later txs be evicted at recheck.
		// (x/validators/proposal now sorts each sender's txs, so this should not happen.)
		// Once every mempool is empty, whatever is not in a block up to the then committed
		// height never will be.
		if time.Since(lastMempoolCheck) > 250*time.Millisecond {
			lastMempoolCheck = time.Now()
			if empty, err := w.b.mempoolsEmpty(); err == nil && empty {
				h, err := w.b.appHeight()
				if err != nil {
					return time.Time{}, 0, err
				}
				for w.latestHeight() < h {
					time.Sleep(5 * time.Millisecond)
				}
				if err := scan(h); err != nil {
					return time.Time{}, 0, err
				}
				return last, len(pending), nil
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, 0, fmt.Errorf("%d txs not committed after %s", len(pending), timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *commitWatch) latestHeight() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest
}

// mempoolsEmpty reports whether no node has unconfirmed txs.
func (b *bench) mempoolsEmpty() (bool, error) {
	for i := 0; i < *nodesFlag; i++ {
		var out struct {
			Result struct {
				NTxs string `json:"n_txs"`
			} `json:"result"`
		}
		if err := getJSON(b.rpc(i)+"/num_unconfirmed_txs", &out); err != nil {
			return false, err
		}
		if out.Result.NTxs != "0" {
			return false, nil
		}
	}
	return true, nil
}

// printTimeline shows when each block of the phase was committed and how many txs it had.
func (w *commitWatch) printTimeline(start time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for h := w.first + 1; ; h++ {
		n, ok := w.txs[h]
		if !ok {
			break
		}
		p := fmt.Sprintf("%d:%d@%.2fs", h, n, w.seen[h].Sub(start).Seconds())
		if d, ok := w.decided[h]; ok {
			p += fmt.Sprintf("(decided@%.2fs)", d.Sub(start).Seconds())
		}
		parts = append(parts, p)
	}
	fmt.Printf("blocks (height:txs@commit time): %s\n", strings.Join(parts, " "))
}

// blockTxHashes returns the hashes (upper-case hex, as broadcast_tx_sync reports them) of
// the txs in block h.
func (b *bench) blockTxHashes(h int64) ([]string, error) {
	var out struct {
		Result struct {
			Block struct {
				Data struct {
					Txs [][]byte `json:"txs"`
				} `json:"data"`
			} `json:"block"`
		} `json:"result"`
	}
	if err := getJSON(fmt.Sprintf("%s/block?height=%d", b.rpc(0), h), &out); err != nil {
		return nil, err
	}
	hashes := make([]string, len(out.Result.Block.Data.Txs))
	for i, tx := range out.Result.Block.Data.Txs {
		sum := sha256.Sum256(tx)
		hashes[i] = strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	return hashes, nil
}
