package p2p

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// FuzzRecord: a gossip record from the wire either fails to decode or verify, or verifies and
// re-encodes to a record that decodes and verifies the same; a record that verifies after one
// byte of its signed content changed would be a forgery.
func FuzzRecord(f *testing.F) {
	priv, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		f.Fatal(err)
	}
	bs := newMemStore()
	for i, addr := range []string{"", "bc1builder"} {
		r, err := SignRecord(priv, BuildRecord{
			Derivation: importFile(f, bs, randomBytes(uint64(i), 100), 64, 4),
			Output:     importFile(f, bs, randomBytes(uint64(i+10), 100), 64, 4),
			Address:    addr,
			Timestamp:  time.UnixMilli(1_700_000_000_000),
		})
		if err != nil {
			f.Fatal(err)
		}
		b, err := MarshalRecord(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := UnmarshalRecord(data)
		if err != nil || r.Verify() != nil {
			return
		}
		b, err := MarshalRecord(r)
		if err != nil {
			t.Fatalf("verified record does not encode: %v", err)
		}
		r2, err := UnmarshalRecord(b)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if err := r2.Verify(); err != nil {
			t.Fatalf("re-encoded record does not verify: %v", err)
		}
		if !r2.Derivation.Equals(r.Derivation) || !r2.Output.Equals(r.Output) || r2.Builder != r.Builder ||
			r2.Address != r.Address || !r2.Timestamp.Equal(r.Timestamp) {
			t.Fatalf("round trip changed the record: %+v -> %+v", r, r2)
		}
		// Changing what the signature covers must break it.
		r2.Address += "x"
		if r2.Verify() == nil {
			t.Fatalf("record verifies with a changed address")
		}
	})
}
