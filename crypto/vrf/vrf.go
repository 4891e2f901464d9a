package vrf

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519/extra/ecvrf"
)

const (
	// SeedSize is the size of a private key seed (RFC 8032 secret key).
	SeedSize = ed25519.SeedSize
	// PublicKeySize is the size of an encoded public key.
	PublicKeySize = ed25519.PublicKeySize
	// ProofSize is the size of pi_string.
	ProofSize = ecvrf.ProofSize
	// OutputSize is the size of beta_string (the VRF output).
	OutputSize = ecvrf.OutputSize
	// SuiteName names the RFC 9381 cipher suite used, for key files and docs.
	SuiteName = "ECVRF-EDWARDS25519-SHA512-ELL2"
)

var (
	// ErrInvalidProof is returned when a proof does not verify.
	ErrInvalidProof = errors.New("vrf: invalid proof")
	// ErrInvalidPublicKey is returned for malformed or weak public keys.
	ErrInvalidPublicKey = errors.New("vrf: invalid public key")
)

// PrivateKey is a VRF secret key. It keeps the RFC 8032 seed so key files
// stay 32 bytes and interoperate with other RFC 9381 implementations.
type PrivateKey struct {
	sk ed25519.PrivateKey
}

// PublicKey is an encoded Edwards25519 point.
type PublicKey []byte

// GenerateKey creates a new key from r (crypto/rand when r is nil).
func GenerateKey(r io.Reader) (PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	seed := make([]byte, SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return PrivateKey{}, fmt.Errorf("vrf: read key seed: %w", err)
	}
	return NewKeyFromSeed(seed)
}

// NewKeyFromSeed derives the key from a 32-byte RFC 8032 seed.
func NewKeyFromSeed(seed []byte) (PrivateKey, error) {
	if len(seed) != SeedSize {
		return PrivateKey{}, fmt.Errorf("vrf: seed must be %d bytes, got %d", SeedSize, len(seed))
	}
	return PrivateKey{sk: ed25519.NewKeyFromSeed(seed)}, nil
}

// Seed returns a copy of the key's seed.
func (k PrivateKey) Seed() []byte {
	return append([]byte(nil), k.sk.Seed()...)
}

// Public returns the public key.
func (k PrivateKey) Public() PublicKey {
	pk := k.sk.Public().(ed25519.PublicKey)
	return append(PublicKey(nil), pk...)
}

// IsZero reports whether k was never initialised.
func (k PrivateKey) IsZero() bool { return len(k.sk) == 0 }

// Prove computes pi_string = ECVRF_prove(SK, alpha). The proof is
// deterministic: the same key and alpha always give the same proof.
func (k PrivateKey) Prove(alpha []byte) []byte {
	if k.IsZero() {
		panic("vrf: Prove on an uninitialised key")
	}
	return ecvrf.Prove(k.sk, alpha)
}

// Evaluate returns both the proof and the VRF output for alpha.
func (k PrivateKey) Evaluate(alpha []byte) (proof, output []byte) {
	proof = k.Prove(alpha)
	out, err := ProofToHash(proof)
	if err != nil {
		// A proof we just made always decodes.
		panic(fmt.Sprintf("vrf: own proof does not decode: %v", err))
	}
	return proof, out
}

// ValidatePublicKey checks that pk is a canonical encoding of a point that is
// not of small order (RFC 9381 §5.4.5 ECVRF_validate_key), so that a
// registered key gives the VRF its full uniqueness property.
func ValidatePublicKey(pk []byte) error {
	if len(pk) != PublicKeySize {
		return fmt.Errorf("%w: want %d bytes, got %d", ErrInvalidPublicKey, PublicKeySize, len(pk))
	}
	var (
		y  curve.CompressedEdwardsY
		pt curve.EdwardsPoint
	)
	if _, err := y.SetBytes(pk); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidPublicKey, err)
	}
	if !y.IsCanonicalVartime() {
		return fmt.Errorf("%w: non-canonical encoding", ErrInvalidPublicKey)
	}
	if _, err := pt.SetCompressedY(&y); err != nil {
		return fmt.Errorf("%w: not a curve point", ErrInvalidPublicKey)
	}
	if pt.IsSmallOrder() {
		return fmt.Errorf("%w: small-order point", ErrInvalidPublicKey)
	}
	return nil
}

// Verify checks proof for alpha under pk and returns beta_string.
func Verify(pk PublicKey, proof, alpha []byte) ([]byte, error) {
	if err := ValidatePublicKey(pk); err != nil {
		return nil, err
	}
	if len(proof) != ProofSize {
		return nil, fmt.Errorf("%w: want %d bytes, got %d", ErrInvalidProof, ProofSize, len(proof))
	}
	ok, beta := ecvrf.Verify(ed25519.PublicKey(pk), proof, alpha)
	if !ok {
		return nil, ErrInvalidProof
	}
	return beta, nil
}

// ProofToHash returns beta_string for a proof without verifying it. Only use
// it on proofs already verified (or produced locally).
func ProofToHash(proof []byte) ([]byte, error) {
	if len(proof) != ProofSize {
		return nil, fmt.Errorf("%w: want %d bytes, got %d", ErrInvalidProof, ProofSize, len(proof))
	}
	beta, err := ecvrf.ProofToHash(proof)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidProof, err)
	}
	return beta, nil
}

// Equal compares two public keys in constant time.
func (pk PublicKey) Equal(other PublicKey) bool {
	return subtle.ConstantTimeCompare(pk, other) == 1
}
