package types

import (
	"crypto/sha256"
	"encoding/binary"

	errorsmod "cosmossdk.io/errors"
)

// Commitments of blind rounds (README.md §Blind rounds). A publisher's claim carries a
// commitment to its output, and an assigned builder commits to its result before anything is
// revealed, so that nobody can report a value it only copied. Each hash binds who commits and
// to what (publisher and derivation; validator, claim and round), so a commitment copied from
// someone else's tx cannot be opened by the copier. Fields are length-prefixed, and the two
// kinds use different domain tags, so no two distinct inputs encode alike.

// MinSaltLen is the shortest salt accepted. The salt hides the committed output among the
// few candidates an observer could try (e.g. the output of a similar derivation).
const MinSaltLen = 16

// MaxSaltLen bounds a salt kept in state.
const MaxSaltLen = 64

// CommitmentLen is the length of a commitment (SHA-256).
const CommitmentLen = sha256.Size

const (
	claimDomain = "buildchain/claim-output/v1"
	buildDomain = "buildchain/build-result/v1"
)

// ClaimCommitment is the commitment a publisher submits instead of its output:
// SHA-256(domain ‖ publisher ‖ derivation CID ‖ output CID ‖ salt), each field length-prefixed.
func ClaimCommitment(publisher, derivationCID, outputCID string, salt []byte) []byte {
	h := newCommitHash(claimDomain)
	h.str(publisher)
	h.str(derivationCID)
	h.str(outputCID)
	h.bytes(salt)
	return h.sum()
}

// BuildCommitment is an assigned builder's commitment to its result:
// SHA-256(domain ‖ validator ‖ claim id ‖ round ‖ output CID ‖ build time ‖ salt).
func BuildCommitment(validator string, claimID uint64, round uint32, outputCID string, buildTimeMs uint64, salt []byte) []byte {
	h := newCommitHash(buildDomain)
	h.str(validator)
	h.u64(claimID)
	h.u64(uint64(round))
	h.str(outputCID)
	h.u64(buildTimeMs)
	h.bytes(salt)
	return h.sum()
}

// ValidateSalt checks a salt's length.
func ValidateSalt(salt []byte) error {
	if len(salt) < MinSaltLen || len(salt) > MaxSaltLen {
		return errorsmod.Wrapf(ErrInvalidSalt, "salt is %d bytes, want %d to %d", len(salt), MinSaltLen, MaxSaltLen)
	}
	return nil
}

// ValidateCommitment checks a commitment's length.
func ValidateCommitment(field string, c []byte) error {
	if len(c) != CommitmentLen {
		return errorsmod.Wrapf(ErrInvalidCommitment, "%s is %d bytes, want %d (SHA-256)", field, len(c), CommitmentLen)
	}
	return nil
}

type commitHash struct{ buf []byte }

func newCommitHash(domain string) *commitHash {
	h := &commitHash{}
	h.str(domain)
	return h
}

func (h *commitHash) bytes(b []byte) {
	h.buf = binary.BigEndian.AppendUint32(h.buf, uint32(len(b)))
	h.buf = append(h.buf, b...)
}

func (h *commitHash) str(s string) { h.bytes([]byte(s)) }

func (h *commitHash) u64(x uint64) { h.buf = binary.BigEndian.AppendUint64(h.buf, x) }

func (h *commitHash) sum() []byte {
	s := sha256.Sum256(h.buf)
	return s[:]
}
