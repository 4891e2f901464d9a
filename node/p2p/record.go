package p2p

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// recordDomain separates build-record signatures from anything else the
// node key signs (libp2p handshakes, pubsub envelopes).
const recordDomain = "buildchain/build-record/v1"

// MaxRecordSize bounds an encoded record; real ones are a few hundred bytes.
const MaxRecordSize = 4096

// maxAddressLen bounds the free-form on-chain address field.
const maxAddressLen = 256

// BuildRecord says that Builder built derivation Derivation and got output
// Output. It is signed by the builder's libp2p key, so it can be relayed and
// kept by anyone and still be checked against the builder's peer ID.
type BuildRecord struct {
	Derivation cid.Cid
	Output     cid.Cid
	Builder    peer.ID
	// Address is the builder's on-chain account (bech32 "bc1…"). It is
	// covered by the signature but not proven by it: whether the account
	// belongs to the builder is for the chain to say.
	Address   string
	Timestamp time.Time // millisecond precision on the wire
	Signature []byte
}

// wireRecord is the JSON form on the gossip topic.
type wireRecord struct {
	Derivation  string `json:"derivation"`
	Output      string `json:"output"`
	Builder     string `json:"builder"`
	Address     string `json:"address,omitempty"`
	TimestampMs int64  `json:"timestamp_ms"`
	Signature   []byte `json:"signature"`
}

// signingBytes is the unambiguous byte string a signature covers: the domain
// then every field, each length-prefixed, the timestamp as int64 ms.
func (r BuildRecord) signingBytes() []byte {
	buf := make([]byte, 0, 256)
	put := func(b []byte) {
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	put([]byte(recordDomain))
	put(r.Derivation.Bytes())
	put(r.Output.Bytes())
	put([]byte(r.Builder))
	put([]byte(r.Address))
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.Timestamp.UnixMilli()))
	return buf
}

func (r BuildRecord) checkFields() error {
	if !r.Derivation.Defined() {
		return errors.New("build record: missing derivation CID")
	}
	if !r.Output.Defined() {
		return errors.New("build record: missing output CID")
	}
	if r.Builder == "" {
		return errors.New("build record: missing builder peer ID")
	}
	if len(r.Address) > maxAddressLen {
		return fmt.Errorf("build record: address longer than %d bytes", maxAddressLen)
	}
	if r.Timestamp.IsZero() {
		return errors.New("build record: missing timestamp")
	}
	return nil
}

// SignRecord fills in Builder (from key) and Timestamp (now, if zero),
// truncates the timestamp to milliseconds and signs the record.
func SignRecord(key crypto.PrivKey, r BuildRecord) (BuildRecord, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return r, fmt.Errorf("build record: peer ID of key: %w", err)
	}
	r.Builder = id
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Now()
	}
	r.Timestamp = time.UnixMilli(r.Timestamp.UnixMilli()).UTC()
	if err := r.checkFields(); err != nil {
		return r, err
	}
	r.Signature, err = key.Sign(r.signingBytes())
	if err != nil {
		return r, fmt.Errorf("build record: sign: %w", err)
	}
	return r, nil
}

// Verify checks the record's fields and that Signature is Builder's
// signature over them. The public key comes from the peer ID itself
// (Ed25519 peer IDs embed it), so no key lookup is needed.
func (r BuildRecord) Verify() error {
	if err := r.checkFields(); err != nil {
		return err
	}
	pub, err := r.Builder.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("build record: public key of builder %s: %w", r.Builder, err)
	}
	ok, err := pub.Verify(r.signingBytes(), r.Signature)
	if err != nil {
		return fmt.Errorf("build record: verify signature: %w", err)
	}
	if !ok {
		return fmt.Errorf("build record: bad signature for builder %s", r.Builder)
	}
	return nil
}

// MarshalRecord encodes a record for the wire.
func MarshalRecord(r BuildRecord) ([]byte, error) {
	w := wireRecord{
		Derivation:  r.Derivation.String(),
		Output:      r.Output.String(),
		Builder:     r.Builder.String(),
		Address:     r.Address,
		TimestampMs: r.Timestamp.UnixMilli(),
		Signature:   r.Signature,
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("build record: encode: %w", err)
	}
	return b, nil
}

// UnmarshalRecord decodes a record from the wire without verifying it.
func UnmarshalRecord(data []byte) (BuildRecord, error) {
	var r BuildRecord
	if len(data) > MaxRecordSize {
		return r, fmt.Errorf("build record: %d bytes, more than %d", len(data), MaxRecordSize)
	}
	var w wireRecord
	if err := json.Unmarshal(data, &w); err != nil {
		return r, fmt.Errorf("build record: decode: %w", err)
	}
	var err error
	if r.Derivation, err = cid.Decode(w.Derivation); err != nil {
		return r, fmt.Errorf("build record: derivation CID: %w", err)
	}
	if r.Output, err = cid.Decode(w.Output); err != nil {
		return r, fmt.Errorf("build record: output CID: %w", err)
	}
	if r.Builder, err = peer.Decode(w.Builder); err != nil {
		return r, fmt.Errorf("build record: builder peer ID: %w", err)
	}
	r.Address = w.Address
	r.Timestamp = time.UnixMilli(w.TimestampMs).UTC()
	r.Signature = w.Signature
	return r, nil
}
