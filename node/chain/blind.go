package chain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	abci "github.com/cometbft/cometbft/abci/types"
	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// Blind claims (x/claims/README.md §Blind rounds): a publisher submits a commitment to its
// output, keeps the output and the salt, and reveals them once the claim's last round is
// committed (the claim is REVEALING). The salt must survive a crash between the submit and
// the reveal, or the deposit is lost: Salts keeps it on disk, written before the submit.

// SaltLen is the length of the salts this client draws.
const SaltLen = 32

// NewSalt draws a random salt.
func NewSalt() ([]byte, error) {
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("draw a salt: %w", err)
	}
	return salt, nil
}

// Published is what a publisher keeps of one blind claim until it revealed it.
type Published struct {
	Derivation string `json:"derivation"`
	Output     string `json:"output"`
	Salt       []byte `json:"salt"`
}

// Salts is a publisher's durable memory of its blind claims: one file per commitment in a
// directory (one file each, so that concurrent `publish` runs and the node's sidecar never
// overwrite each other), each written atomically (internal/atomicfile) before the claim is sent.
type Salts struct{ dir string }

// OpenSalts keeps salts in dir (created if missing).
func OpenSalts(dir string) (*Salts, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("publisher salts dir: %w", err)
	}
	return &Salts{dir: dir}, nil
}

func (s *Salts) path(commitment []byte) string {
	return filepath.Join(s.dir, hex.EncodeToString(commitment)+".json")
}

// Put stores what opens commitment, durably, before the claim carrying it is sent.
func (s *Salts) Put(commitment []byte, p Published) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.path(commitment), data, 0o600)
}

// Get returns what opens commitment; found is false if this publisher never stored it.
func (s *Salts) Get(commitment []byte) (p Published, found bool, err error) {
	data, err := os.ReadFile(s.path(commitment))
	if errors.Is(err, os.ErrNotExist) {
		return Published{}, false, nil
	}
	if err != nil {
		return Published{}, false, err
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return Published{}, false, fmt.Errorf("publisher salt file %s: %w", s.path(commitment), err)
	}
	return p, true, nil
}

// SetSalts gives Submit and SubmitBatch the store of their blind claims' salts (without one
// they refuse: ErrNotBlind).
func (cl *Claims) SetSalts(s *Salts) { cl.salts = s }

// Salts is where blind claims' salts are kept (nil: none, nothing can be submitted).
func (cl *Claims) Salts() *Salts { return cl.salts }

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
	p, found, err := cl.salts.Get(c.OutputCommitment)
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
	if p, found, err := cl.salts.Get(c.OutputCommitment); err == nil && found && p.Derivation == c.DerivationCid {
		return p.Output
	}
	return ""
}
