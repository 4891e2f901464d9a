package sidecartest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"cosmossdk.io/log"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/crypto/keyring"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/app"
	"github.com/buildchain/buildchain/internal/saltfile"
	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/sidecar"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
	validatorstypes "github.com/buildchain/buildchain/x/validators/types"
)

var (
	encOnce sync.Once
	encApp  *app.App
)

// codecs returns a throw-away app for its codecs (as the CLI root does).
func codecs() *app.App {
	encOnce.Do(func() {
		home, _ := os.MkdirTemp("", "sidecartest-app-")
		encApp = app.New(log.NewNopLogger(), dbm.NewMemDB(), nil, false, simtestutil.NewAppOptionsWithFlagHome(home))
	})
	return encApp
}

// Env is a localnet plus node-side peers.
type Env struct {
	T   testing.TB
	Net *localnet.Net
	Dir string
	Log *slog.Logger
	// FetchTimeout bounds each fetch of a closure from peers (and the scan of its references)
	// and BuildTimeout each build of the peers made after they are set; 0: 2 min and 10 min.
	// Tests whose inputs are toolchains (hundreds of MB) raise them: on a loaded machine the
	// defaults are too short for a toolchain fetched when assigned or a cold Go build.
	FetchTimeout, BuildTimeout time.Duration
}

func (e *Env) fetchTimeout() time.Duration {
	if e.FetchTimeout > 0 {
		return e.FetchTimeout
	}
	return 2 * time.Minute
}

func (e *Env) buildTimeout() time.Duration {
	if e.BuildTimeout > 0 {
		return e.BuildTimeout
	}
	return 10 * time.Minute
}

// NewEnv wraps a running localnet.
func NewEnv(t testing.TB, net *localnet.Net) *Env {
	lvl := slog.LevelWarn
	if os.Getenv("SIDECARTEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return &Env{T: t, Net: net, Dir: t.TempDir(), Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))}
}

// ClientCtx is a client context for key (in node 0's test keyring) talking
// to authority node's RPC.
func (e *Env) ClientCtx(node int, key string) client.Context {
	t := e.T
	a := codecs()
	kr, err := keyring.New(sdk.KeyringServiceName(), keyring.BackendTest, e.Net.Home(0), nil, a.AppCodec())
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	rpc, err := client.NewClientFromNode(e.Net.RPCAddr(node))
	if err != nil {
		t.Fatalf("rpc client: %v", err)
	}
	cctx := client.Context{}.
		WithCodec(a.AppCodec()).WithInterfaceRegistry(a.InterfaceRegistry()).WithTxConfig(a.TxConfig()).
		WithLegacyAmino(a.LegacyAmino()).WithAccountRetriever(authtypes.AccountRetriever{}).
		WithKeyring(kr).WithClient(rpc).WithNodeURI(e.Net.RPCAddr(node)).WithChainID(e.Net.ChainID).
		WithBroadcastMode("sync").WithHomeDir(e.Net.Home(node))
	if key != "" {
		rec, err := kr.Key(key)
		if err != nil {
			t.Fatalf("key %s: %v", key, err)
		}
		addr, err := rec.GetAddress()
		if err != nil {
			t.Fatalf("key %s: %v", key, err)
		}
		cctx = cctx.WithFromName(key).WithFromAddress(addr)
	}
	return cctx
}

// Claims is an x/claims client signing as key through authority node.
func (e *Env) Claims(node int, key string) *chain.Claims {
	c, err := chain.New(e.ClientCtx(node, key), nil)
	if err != nil {
		e.T.Fatalf("chain client: %v", err)
	}
	return chain.NewClaims(c)
}

// Peer is one machine's node side: a node runtime (store, FUSE view,
// builder, libp2p node) and, with a key, its chain client.
type Peer struct {
	Name    string
	Key     string // chain key ("" for a peer without an account)
	Node    int    // authority whose RPC it talks to
	Dir     string
	Runtime *runtime.Runtime
	Store   *storefs.Store
	Builder *builder.Builder
	P2P     *p2p.Node
	Claims  *chain.Claims
}

// NewPeer starts a peer connected to bootstrap peers (may be none).
func (e *Env) NewPeer(name, key string, node int, bootstrap ...*Peer) *Peer {
	t := e.T
	dir := filepath.Join(e.Dir, name)
	var boot []string
	for _, b := range bootstrap {
		for _, a := range b.P2P.Addrs() {
			boot = append(boot, a.String())
		}
	}
	p := &Peer{Name: name, Key: key, Node: node, Dir: dir}
	if key != "" {
		p.Claims = e.Claims(node, key)
		// Its claims are blind (x/claims/README.md §Blind rounds), salts kept where
		// `buildchaind publish` keeps them.
		salts, err := saltfile.Open(filepath.Join(dir, "sidecar", "published"))
		if err != nil {
			t.Fatalf("%s: salts: %v", name, err)
		}
		p.Claims.SetSalts(salts)
	}
	useFUSE := true
	cfg := runtime.Config{
		StoreRoot: filepath.Join(dir, "ipfs"),
		Builder: builder.Config{StateDir: filepath.Join(dir, "builds"), Timeout: e.buildTimeout(),
			Log: io.Discard, UseFUSE: &useFUSE},
		FUSE: true,
		P2P: &p2p.Config{KeyFile: filepath.Join(dir, "p2p.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
			Bootstrap: boot, ReprovideInterval: -1},
		FetchTimeout: e.fetchTimeout(),
		Log:          e.Log.With("peer", name),
	}
	if p.Claims != nil {
		cfg.Chain = p.Claims.C
	}
	rt, err := runtime.Open(cfg)
	if err != nil {
		t.Fatalf("%s: runtime: %v", name, err)
	}
	t.Cleanup(func() { rt.Close() })
	if err := rt.Start(context.Background()); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	p.Runtime, p.Store, p.Builder = rt, rt.Store(), rt.Builder()
	if p.P2P, err = rt.P2P(); err != nil {
		t.Fatalf("%s: p2p: %v", name, err)
	}
	return p
}

// Register makes the peer's account a build validator for this system.
func (e *Env) Register(p *Peer) {
	t := e.T
	ctx := context.Background()
	q := validatorstypes.NewQueryClient(p.Claims.C.Context())
	params, err := q.Params(ctx, &validatorstypes.QueryParamsRequest{})
	if err != nil {
		t.Fatalf("validators params: %v", err)
	}
	msg := &validatorstypes.MsgRegisterValidator{Operator: p.Claims.Validator(), Systems: []string{builder.HostSystem()},
		Bond: params.Params.MinBond}
	if _, _, err := p.Claims.C.Broadcast(ctx, msg); err != nil {
		t.Fatalf("%s: register validator: %v", p.Name, err)
	}
}

// Running is an in-process sidecar.
type Running struct {
	Peer    *Peer
	Sidecar *sidecar.Sidecar
	Metrics *sidecar.Metrics
	src     *sidecar.CometSource
	cancel  context.CancelFunc
	done    chan error
	env     *Env
}

// StatePath is where the peer's sidecar keeps its state.
func (p *Peer) StatePath() string { return filepath.Join(p.Dir, "sidecar", "state.json") }

// StartSidecar runs the peer's sidecar until Stop (or the test's end).
func (e *Env) StartSidecar(p *Peer) *Running {
	t := e.T
	m := sidecar.NewMetrics()
	src, err := sidecar.NewCometSource(e.Net.RPCAddr(p.Node), e.Log.With("peer", p.Name), m.WSReconnects.Inc)
	if err != nil {
		t.Fatalf("%s: comet source: %v", p.Name, err)
	}
	mk, err := chain.NewMarkets(context.Background(), p.Claims.C, sdk.Coin{})
	if err != nil {
		t.Fatalf("%s: markets: %v", p.Name, err)
	}
	sc, err := p.Runtime.NewSidecar(runtime.SidecarConfig{Config: sidecar.Config{StatePath: p.StatePath(), Workers: 2,
		Poll: 500 * time.Millisecond, FetchTimeout: e.fetchTimeout(), Address: p.Claims.Validator(),
		MetricsAddr: "127.0.0.1:0", Log: e.Log.With("peer", p.Name), Metrics: m},
		Source: src, Claims: p.Claims, Markets: mk})
	if err != nil {
		t.Fatalf("%s: sidecar: %v", p.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Peer: p, Sidecar: sc, Metrics: m, src: src, cancel: cancel, done: make(chan error, 1), env: e}
	go func() { r.done <- sc.Run(ctx) }()
	t.Cleanup(func() { r.Stop() })
	return r
}

// Stop stops the sidecar (a crash as far as the chain can tell: in-flight
// builds are killed, nothing more is reported) and waits for it.
func (r *Running) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			r.env.T.Errorf("%s: sidecar ended with: %v", r.Peer.Name, err)
		}
	case <-time.After(30 * time.Second):
		r.env.T.Errorf("%s: sidecar did not stop", r.Peer.Name)
	}
	r.src.Close()
	r.cancel = nil
}

// Hello adds the bootstrap busybox and the hello example (examples/hello)
// to the peer's store, with an extra env entry salt so that tests can make
// distinct derivations; it returns the derivation CID.
func (p *Peer) Hello(t testing.TB, salt string) cid.Cid {
	return p.Derivation(t, "hello/hello.json", salt)
}

// Derivation adds an example derivation template (path under examples/).
func (p *Peer) Derivation(t testing.TB, example, salt string) cid.Cid {
	bb, err := p.Builder.Bootstrap()
	if err != nil {
		if bb, err = p.Builder.ImportBusybox(context.Background(), "", "test"); err != nil {
			t.Fatalf("import busybox: %v", err)
		}
	}
	data, err := os.ReadFile(filepath.Join(localnet.RepoRoot(), "examples", example))
	if err != nil {
		t.Fatal(err)
	}
	vars, err := p.Builder.TemplateVars()
	if err != nil {
		t.Fatal(err)
	}
	vars["bootstrap"] = bb.String()
	filled, err := builder.Template(data, vars)
	if err != nil {
		t.Fatal(err)
	}
	d, err := derivation.Parse(filled)
	if err != nil {
		t.Fatal(err)
	}
	if salt != "" {
		d.Env["SALT"] = salt
	}
	c, err := p.Builder.AddDerivation(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// AddDerivation stores d.
func (p *Peer) AddDerivation(t testing.TB, d *derivation.Derivation) cid.Cid {
	c, err := p.Builder.AddDerivation(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Publish builds drv locally, provides the derivation, its inputs and the
// output, and submits the claim with the minimum deposit. If output is
// defined it is claimed instead of the built one (a lie).
func (p *Peer) Publish(t testing.TB, drv, output cid.Cid) (claimID uint64, resolved, claimed cid.Cid, submitted time.Time, height int64) {
	ctx := context.Background()
	res, err := p.Builder.Build(ctx, drv, builder.Options{})
	if err != nil {
		t.Fatalf("%s: build %s: %v", p.Name, drv, err)
	}
	resolved, claimed = res.Resolved, res.Output
	if output.Defined() {
		claimed = output
	}
	d, err := p.Builder.LoadDerivation(resolved)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []cid.Cid{resolved, claimed, res.Output} {
		if err := p.Store.Pin("test", "publish", c); err != nil {
			t.Fatal(err)
		}
	}
	// The claim is blind: the derivation is provided, the output only once decided.
	if err := p.P2P.Provide(ctx, resolved); err != nil {
		t.Logf("%s: provide %s: %v", p.Name, resolved, err)
	}
	q := claimstypes.NewQueryClient(p.Claims.C.Context())
	params, err := q.Params(ctx, &claimstypes.QueryParamsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	submitted = time.Now()
	id, hash, err := p.Claims.Submit(ctx, resolved, claimed, d.System, params.Params.MinDeposit)
	if err != nil {
		t.Fatalf("%s: submit claim: %v", p.Name, err)
	}
	tx, err := p.Claims.C.Context().Client.Tx(ctx, mustHex(hash), false)
	if err != nil {
		t.Fatal(err)
	}
	p.revealWhenDue(t, id)
	return id, resolved, claimed, submitted, tx.Height
}

// revealWhenDue reveals the blind claim id when its reveal phase opens, as `buildchaind
// publish` does while it waits, until the claim is decided or the test ends.
func (p *Peer) revealWhenDue(t testing.TB, id uint64) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			c, err := p.Claims.Claim(ctx, id)
			if err == nil {
				if c.Status.IsFinal() || c.Revealed() {
					return
				}
				if _, err := p.Claims.RevealDue(ctx, c); err != nil && ctx.Err() == nil {
					t.Logf("%s: reveal claim %d: %v", p.Name, id, err)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
}

// WaitClaim polls until pred holds for the claim or timeout.
func WaitClaim(t testing.TB, c *chain.Claims, id uint64, timeout time.Duration, what string, pred func(claimstypes.Claim) bool) claimstypes.Claim {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last claimstypes.Claim
	var lastErr error
	for time.Now().Before(deadline) {
		cl, err := c.Claim(context.Background(), id)
		if err == nil {
			last = cl
			if pred(cl) {
				return cl
			}
		}
		lastErr = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("claim %d: timed out after %s waiting for %s; last: %s round %d assignments %s (err %v)",
		id, timeout, what, last.Status, last.Round, fmtAssignments(last), lastErr)
	return last
}

func fmtAssignments(c claimstypes.Claim) string {
	s := ""
	for _, a := range c.Assignments {
		s += fmt.Sprintf("[r%d %s %s out=%s] ", a.Round, a.Validator, a.Status, a.OutputCid)
	}
	return s
}

// FmtAssignments renders a claim's assignments for test logs.
func FmtAssignments(c claimstypes.Claim) string { return fmtAssignments(c) }

// Slow is the hello example with a sleep of secs seconds first, so a test
// can act while it builds.
func (p *Peer) Slow(t testing.TB, salt string, secs int) cid.Cid {
	c := p.Hello(t, salt)
	d, err := p.Builder.LoadDerivation(c)
	if err != nil {
		t.Fatal(err)
	}
	d.Args[len(d.Args)-1] = fmt.Sprintf("/ipfs/store/%s/bin/sleep %d\n", d.Inputs[0].CID, secs) + d.Args[len(d.Args)-1]
	return p.AddDerivation(t, d)
}
