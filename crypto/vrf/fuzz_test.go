package vrf

import (
	"bytes"
	"testing"
)

// FuzzVerify: proofs and keys from the chain are attacker-chosen bytes. Verify never panics; it
// accepts a proof only with the beta that ProofToHash gives for it, and accepts nothing for a
// changed alpha. For the honest key, only the honest proof verifies.
func FuzzVerify(f *testing.F) {
	sk, err := NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		f.Fatal(err)
	}
	pk := sk.Public()
	for _, alpha := range [][]byte{nil, []byte("height 7"), bytes.Repeat([]byte{0xff}, 64)} {
		f.Add([]byte(pk), sk.Prove(alpha), alpha)
	}
	f.Add(make([]byte, PublicKeySize), make([]byte, ProofSize), []byte{})
	f.Fuzz(func(t *testing.T, key, proof, alpha []byte) {
		_ = ValidatePublicKey(key)
		hash, herr := ProofToHash(proof)
		beta, err := Verify(PublicKey(key), proof, alpha)
		if err != nil {
			return
		}
		if herr != nil || !bytes.Equal(beta, hash) {
			t.Fatalf("verified proof: beta %x, ProofToHash %x (%v)", beta, hash, herr)
		}
		if _, err := Verify(PublicKey(key), proof, append(append([]byte(nil), alpha...), 0)); err == nil {
			t.Fatalf("proof verifies for a different alpha")
		}
		if bytes.Equal(key, pk) {
			honest, _ := sk.Evaluate(alpha)
			if !bytes.Equal(honest, proof) {
				t.Fatalf("a second proof verifies for the honest key")
			}
		}
	})
}
