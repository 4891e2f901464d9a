package sidecar

import (
	"context"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/chain"
	"github.com/buildchain/buildchain/node/p2p"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// Claims is the sidecar's view of x/claims: decoding its events, reading a
// round's state, committing a round's result and revealing it (x/claims
// refuses open reports, x/claims/README.md §Blind rounds). node/chain.Claims
// implements it over the SDK client; tests may use a fake.
type Claims interface {
	// Validator is the account this sidecar reports as.
	Validator() string
	// Decode picks the assignments and the rounds that ended (reported,
	// timed out, claim decided) out of one height's events.
	Decode(events []abci.Event) (assigned []chain.Assignment, ended []chain.RoundKey, err error)
	// chain.RoundState asks the chain (at its latest state) about our round.
	RoundState(ctx context.Context, claimID uint64, round uint32) (chain.RoundState, error)
	// Commit signs and broadcasts MsgCommitBuild; RevealBuild opens it (MsgRevealBuild)
	// once the claim is REVEALING. Both return once the chain accepted the tx into a
	// block (or failed).
	Commit(ctx context.Context, claimID uint64, round uint32, commitment []byte) (txHash string, err error)
	RevealBuild(ctx context.Context, claimID uint64, round uint32, output cid.Cid, buildTimeMs uint64, salt []byte) (txHash string, err error)
}

// Publisher is implemented by a Claims that can also reveal the blind claims this account
// published (node/chain.Claims with its salts): the sidecar then reveals them when their
// reveal phase opens, for a `publish` that did not wait.
type Publisher interface {
	Claim(ctx context.Context, id uint64) (claimstypes.Claim, error)
	RevealDue(ctx context.Context, c claimstypes.Claim) (sent bool, err error)
}

// Builder rebuilds a derivation whose closure is in the local store.
type Builder interface {
	// Rebuild always runs the build (a validator must not report a cached
	// output it did not just reproduce) and returns the output root and the
	// time the build took in the sandbox.
	Rebuild(ctx context.Context, drv cid.Cid) (out cid.Cid, took time.Duration, err error)
}

// Network moves blocks and announces outputs; node/runtime implements it
// over the node's store and p2p host.
type Network interface {
	// Fetch makes root's closure local (hash-checked) and everything a
	// build of it needs, and keeps it safe from the store's GC until
	// release is called: a GC running meanwhile loses none of it.
	Fetch(ctx context.Context, root cid.Cid, progress func(done, total int)) (st p2p.FetchStats, release func(), err error)
	Provide(ctx context.Context, c cid.Cid) error
	Announce(ctx context.Context, r p2p.BuildRecord) (p2p.BuildRecord, error)
}

// node/chain implements Claims and Markets over a real chain.
var (
	_ Claims    = (*chain.Claims)(nil)
	_ Publisher = (*chain.Claims)(nil)
	_ Markets   = (*chain.Markets)(nil)
)
