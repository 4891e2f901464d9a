package chain

import (
	"context"
	"errors"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"
	gogoproto "github.com/cosmos/gogoproto/proto"
	cid "github.com/ipfs/go-cid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/buildchain/buildchain/internal/saltfile"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

// Claims is sidecar.Claims over a real chain, reporting as Client's account.
type Claims struct {
	C *Client
	q claimstypes.QueryClient
	// salts, if set, makes submitted claims blind (blind.go).
	salts *saltfile.Store
}

// NewClaims wraps a client.
func NewClaims(c *Client) *Claims {
	return &Claims{C: c, q: claimstypes.NewQueryClient(c.ctx)}
}

// Validator implements sidecar.Claims.
func (cl *Claims) Validator() string { return cl.C.Address() }

// Query is the x/claims query client.
func (cl *Claims) Query() claimstypes.QueryClient { return cl.q }

// Decode implements sidecar.Claims: EventClaimAssigned gives assignments;
// reports, timeouts and final verdicts end rounds (Round 0: every round of
// the claim).
func (cl *Claims) Decode(events []abci.Event) ([]Assignment, []RoundKey, error) {
	return DecodeEvents(events)
}

// DecodeEvents is Decode without a client.
func DecodeEvents(events []abci.Event) ([]Assignment, []RoundKey, error) {
	var as []Assignment
	var ended []RoundKey
	for _, e := range events {
		// Only the x/claims events the sidecar acts on; others (bank, market,
		// events added later) are not ours to read.
		if !handledEvents[e.Type] {
			continue
		}
		msg, err := ParseEvent(e)
		if err != nil {
			return nil, nil, err
		}
		switch ev := msg.(type) {
		case *claimstypes.EventClaimAssigned:
			drv, err := cid.Decode(ev.DerivationCid)
			if err != nil {
				return nil, nil, fmt.Errorf("claim %d assigned with bad derivation CID %q: %w", ev.ClaimId, ev.DerivationCid, err)
			}
			as = append(as, Assignment{ClaimID: ev.ClaimId, Round: ev.Round, Validator: ev.Validator,
				Derivation: drv, Deadline: ev.DeadlineHeight})
		case *claimstypes.EventRoundTimedOut:
			ended = append(ended, RoundKey{ClaimID: ev.ClaimId, Round: ev.Round})
		case *claimstypes.EventBuildReported:
			ended = append(ended, RoundKey{ClaimID: ev.ClaimId, Round: ev.Round})
		case *claimstypes.EventClaimValid:
			ended = append(ended, RoundKey{ClaimID: ev.ClaimId})
		case *claimstypes.EventClaimDisputed:
			ended = append(ended, RoundKey{ClaimID: ev.ClaimId})
		case *claimstypes.EventClaimExpired:
			ended = append(ended, RoundKey{ClaimID: ev.ClaimId})
		case *claimstypes.EventClaimRejected:
			ended = append(ended, RoundKey{ClaimID: ev.ClaimId})
		case *claimstypes.EventRevealMissed:
			if ev.Validator != "" {
				ended = append(ended, RoundKey{ClaimID: ev.ClaimId, Round: ev.Round})
			}
		}
	}
	return as, ended, nil
}

var handledEvents = map[string]bool{
	typeName(&claimstypes.EventClaimAssigned{}): true, typeName(&claimstypes.EventRoundTimedOut{}): true,
	typeName(&claimstypes.EventBuildReported{}): true, typeName(&claimstypes.EventClaimValid{}): true,
	typeName(&claimstypes.EventClaimDisputed{}): true, typeName(&claimstypes.EventClaimExpired{}): true,
	typeName(&claimstypes.EventClaimRejected{}): true, typeName(&claimstypes.EventRevealMissed{}): true,
}

func typeName(m gogoproto.Message) string { return gogoproto.MessageName(m) }

// RoundState implements sidecar.Claims from the claim's assignment list.
func (cl *Claims) RoundState(ctx context.Context, claimID uint64, round uint32) (RoundState, error) {
	res, err := cl.q.Claim(ctx, &claimstypes.QueryClaimRequest{Id: claimID})
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return RoundGone, nil
		}
		return 0, fmt.Errorf("query claim %d: %w", claimID, err)
	}
	return RoundStateOf(res.Claim, round, cl.Validator()), nil
}

// RoundStateOf reads our round's state from a claim.
func RoundStateOf(c claimstypes.Claim, round uint32, validator string) RoundState {
	for _, a := range c.Assignments {
		if a.Round != round || a.Validator != validator {
			continue
		}
		switch a.Status {
		case claimstypes.ROUND_STATUS_ASSIGNED:
			if c.Status != claimstypes.CLAIM_STATUS_ASSIGNED || !c.IsBlind() {
				// An open claim is history (x/claims refuses open reports): nothing to send.
				return RoundGone
			}
			return RoundOpen
		case claimstypes.ROUND_STATUS_COMMITTED:
			switch {
			case c.Status == claimstypes.CLAIM_STATUS_REVEALING:
				return RoundRevealable
			case c.Status.IsFinal():
				// Ended before its reveals opened (expired, or its publisher never revealed).
				return RoundGone
			}
			return RoundCommitted
		case claimstypes.ROUND_STATUS_AGREED, claimstypes.ROUND_STATUS_DISAGREED, claimstypes.ROUND_STATUS_REVEALED,
			claimstypes.ROUND_STATUS_NON_DETERMINISM, claimstypes.ROUND_STATUS_REJECTED:
			return RoundReported
		default:
			return RoundGone
		}
	}
	return RoundGone
}

// Submit sends MsgSubmitClaim and returns the new claim's id.
func (cl *Claims) Submit(ctx context.Context, drv, output cid.Cid, system string, deposit sdk.Coin) (uint64, string, error) {
	ids, hash, err := cl.SubmitBatch(ctx, []NewClaim{{Derivation: drv, Output: output, System: system, Deposit: deposit}})
	if err != nil {
		return 0, hash, err
	}
	return ids[0], hash, nil
}

// NewClaim is one claim to submit.
type NewClaim struct {
	Derivation, Output cid.Cid
	System             string
	Deposit            sdk.Coin
}

// ErrNotBlind: a publisher's claims are blind (x/claims/README.md §Blind rounds), so Submit
// and SubmitBatch need the salt store (SetSalts); they never send an open claim.
var ErrNotBlind = errors.New("claims are submitted blind: no salt store to keep their salts (SetSalts)")

// SubmitBatch sends one MsgSubmitClaim per claim in a single tx (all or none are accepted) and
// returns the new claims' ids in the order of cs. The claims are blind: each carries a
// commitment to its output, whose salt is stored durably (SetSalts) before the tx is sent
// (RevealDue reveals it later). Without a salt store it fails with ErrNotBlind.
func (cl *Claims) SubmitBatch(ctx context.Context, cs []NewClaim) ([]uint64, string, error) {
	if len(cs) == 0 {
		return nil, "", errors.New("no claims to submit")
	}
	if cl.salts == nil {
		return nil, "", ErrNotBlind
	}
	msgs := make([]sdk.Msg, len(cs))
	for i, c := range cs {
		m := &claimstypes.MsgSubmitClaim{Publisher: cl.Validator(), DerivationCid: c.Derivation.String(),
			System: c.System, Deposit: c.Deposit}
		salt, err := saltfile.NewSalt()
		if err != nil {
			return nil, "", err
		}
		m.OutputCommitment = claimstypes.ClaimCommitment(m.Publisher, m.DerivationCid, c.Output.String(), salt)
		if err := cl.salts.PutOpening(m.OutputCommitment, saltfile.Opening{Derivation: m.DerivationCid, Output: c.Output.String(), Salt: salt}); err != nil {
			return nil, "", fmt.Errorf("keep the salt of a blind claim: %w", err)
		}
		msgs[i] = m
	}
	res, hash, err := cl.C.Broadcast(ctx, msgs...)
	if err != nil {
		return nil, hash, err
	}
	// The msgs run in order, each emitting its EventClaimSubmitted.
	var ids []uint64
	for _, e := range res.Events {
		if e.Type != typeName(&claimstypes.EventClaimSubmitted{}) {
			continue
		}
		m, err := ParseEvent(e)
		if err != nil {
			return nil, hash, fmt.Errorf("claim submitted event: %w", err)
		}
		ids = append(ids, m.(*claimstypes.EventClaimSubmitted).ClaimId)
	}
	if len(ids) != len(cs) {
		return nil, hash, fmt.Errorf("%d claims submitted but %d submitted events in the tx result", len(cs), len(ids))
	}
	return ids, hash, nil
}

// Claim returns a claim by id.
func (cl *Claims) Claim(ctx context.Context, id uint64) (claimstypes.Claim, error) {
	res, err := cl.q.Claim(ctx, &claimstypes.QueryClaimRequest{Id: id})
	if err != nil {
		return claimstypes.Claim{}, fmt.Errorf("query claim %d: %w", id, err)
	}
	return res.Claim, nil
}

// VerifiedOutput is the chain's verified output of a (resolved) derivation;
// found is false when there is none.
func (cl *Claims) VerifiedOutput(ctx context.Context, drv cid.Cid) (out *claimstypes.QueryVerifiedOutputResponse, found bool, err error) {
	res, err := cl.q.VerifiedOutput(ctx, &claimstypes.QueryVerifiedOutputRequest{DerivationCid: drv.String()})
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("query verified output of %s: %w", drv, err)
	}
	if res.OutputCid == "" {
		return nil, false, nil
	}
	return res, true, nil
}

// ClaimsByDerivation lists every claim of a derivation (all pages).
func (cl *Claims) ClaimsByDerivation(ctx context.Context, drv cid.Cid) ([]claimstypes.Claim, error) {
	var out []claimstypes.Claim
	var key []byte
	for {
		res, err := cl.q.ClaimsByDerivation(ctx, &claimstypes.QueryClaimsByDerivationRequest{DerivationCid: drv.String(),
			Pagination: &query.PageRequest{Key: key, Limit: 100}})
		if err != nil {
			return nil, fmt.Errorf("query claims of %s: %w", drv, err)
		}
		out = append(out, res.Claims...)
		if res.Pagination == nil || len(res.Pagination.NextKey) == 0 {
			return out, nil
		}
		key = res.Pagination.NextKey
	}
}
