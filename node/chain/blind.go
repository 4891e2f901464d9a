package chain

import (
	"context"
	"errors"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/saltfile"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// Blind claims (x/claims/README.md §Blind rounds): a publisher submits a commitment to its
// output, keeps the output and the salt, and reveals them once the claim's last round is
// committed (the claim is REVEALING). The salt must survive a crash between the submit and
// the reveal, or the deposit is lost: internal/saltfile keeps it on disk, written before the
// submit.

// SetSalts gives Submit and SubmitBatch the store of their blind claims' salts (without one
// they refuse: ErrNotBlind).
func (cl *Claims) SetSalts(s *saltfile.Store) { cl.salts = s }

// Salts is where blind claims' salts are kept (nil: none, nothing can be submitted).
func (cl *Claims) Salts() *saltfile.Store { return cl.salts }

// Commit implements sidecar.Claims: MsgCommitBuild.
func (cl *Claims) Commit(ctx context.Context, claimID uint64, round uint32, commitment []byte) (string, error) {
	_, hash, err := cl.C.Broadcast(ctx, &claimstypes.MsgCommitBuild{Validator: cl.Validator(), ClaimId: claimID,
		Round: round, Commitment: commitment})
	return hash, err
}

// RevealBuild implements sidecar.Claims: MsgRevealBuild.
func (cl *Claims) RevealBuild(ctx context.Context, claimID uint64, round uint32, output cid.Cid, buildTimeMs uint64, salt []byte) (string, error) {
	_, hash, err := cl.C.Broadcast(ctx, &claimstypes.MsgRevealBuild{Validator: cl.Validator(), ClaimId: claimID,
		Round: round, OutputCid: output.String(), BuildTimeMs: buildTimeMs, Salt: salt})
	return hash, err
}

// ErrNoSalt: a blind claim of ours is revealing, but this publisher has no salt for it (it
// was submitted from another home, or the salt file was lost): its deposit will be lost.
var ErrNoSalt = errors.New("no salt kept for this blind claim")

// RevealDue reveals c's output if c is a blind claim of ours that is REVEALING and not yet
// revealed; it reports whether it sent a reveal. The caller reads c from the chain right
// before, so a reveal that already landed is never sent again.
func (cl *Claims) RevealDue(ctx context.Context, c claimstypes.Claim) (bool, error) {
	if c.Status != claimstypes.CLAIM_STATUS_REVEALING || !c.IsBlind() || c.Revealed() || c.Publisher != cl.Validator() {
		return false, nil
	}
	if cl.salts == nil {
		return false, fmt.Errorf("claim %d: %w (no salts directory configured)", c.Id, ErrNoSalt)
	}
	p, found, err := cl.salts.GetOpening(c.OutputCommitment)
	if err != nil {
		return false, err
	}
	if !found {
		return false, fmt.Errorf("claim %d: %w", c.Id, ErrNoSalt)
	}
	if _, _, err := cl.C.Broadcast(ctx, &claimstypes.MsgRevealClaim{Publisher: cl.Validator(), ClaimId: c.Id,
		OutputCid: p.Output, Salt: p.Salt}); err != nil {
		return false, fmt.Errorf("reveal claim %d: %w", c.Id, err)
	}
	return true, nil
}

// RevealOpened is a blind claim whose reveals opened (EventRevealOpened).
type RevealOpened struct {
	ClaimID   uint64
	Publisher string
}

// DecodeRevealsOpened picks the blind claims whose reveal phase opened out of a height's events.
func DecodeRevealsOpened(events []abci.Event) ([]RevealOpened, error) {
	var out []RevealOpened
	name := typeName(&claimstypes.EventRevealOpened{})
	for _, e := range events {
		if e.Type != name {
			continue
		}
		m, err := ParseEvent(e)
		if err != nil {
			return nil, err
		}
		ev := m.(*claimstypes.EventRevealOpened)
		out = append(out, RevealOpened{ClaimID: ev.ClaimId, Publisher: ev.Publisher})
	}
	return out, nil
}

// ClaimedOutput is the output c claims: public once revealed, and known to this publisher
// from its salts before that; "" if unknown.
func (cl *Claims) ClaimedOutput(c claimstypes.Claim) string {
	if c.Revealed() || cl.salts == nil {
		return c.OutputCid
	}
	if p, found, err := cl.salts.GetOpening(c.OutputCommitment); err == nil && found && p.Derivation == c.DerivationCid {
		return p.Output
	}
	return ""
}
