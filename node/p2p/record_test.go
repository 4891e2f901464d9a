package p2p

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

func testCid(t *testing.T, s string) cid.Cid {
	t.Helper()
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum([]byte(s))
	require.NoError(t, err)
	return c
}

func testKey(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	require.NoError(t, err)
	return k
}

func TestRecordSignVerifyRoundTrip(t *testing.T) {
	key := testKey(t)
	r, err := SignRecord(key, BuildRecord{
		Derivation: testCid(t, "drv"),
		Output:     testCid(t, "out"),
		Address:    "bc1qexample",
		Timestamp:  time.UnixMilli(1_700_000_000_123).Add(456 * time.Microsecond),
	})
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(key)
	require.NoError(t, err)
	require.Equal(t, id, r.Builder)
	require.Equal(t, int64(1_700_000_000_123), r.Timestamp.UnixMilli())
	require.NoError(t, r.Verify())

	data, err := MarshalRecord(r)
	require.NoError(t, err)
	back, err := UnmarshalRecord(data)
	require.NoError(t, err)
	require.NoError(t, back.Verify())
	require.True(t, back.Derivation.Equals(r.Derivation))
	require.True(t, back.Output.Equals(r.Output))
	require.Equal(t, r.Builder, back.Builder)
	require.Equal(t, r.Address, back.Address)
	require.True(t, r.Timestamp.Equal(back.Timestamp))
}

func TestRecordTamperingDetected(t *testing.T) {
	key := testKey(t)
	r, err := SignRecord(key, BuildRecord{Derivation: testCid(t, "drv"), Output: testCid(t, "out"), Address: "bc1a"})
	require.NoError(t, err)
	otherID, err := peer.IDFromPrivateKey(testKey(t))
	require.NoError(t, err)

	cases := map[string]func(*BuildRecord){
		"derivation": func(x *BuildRecord) { x.Derivation = testCid(t, "other") },
		"output":     func(x *BuildRecord) { x.Output = testCid(t, "other") },
		"builder":    func(x *BuildRecord) { x.Builder = otherID },
		"address":    func(x *BuildRecord) { x.Address = "bc1b" },
		"timestamp":  func(x *BuildRecord) { x.Timestamp = x.Timestamp.Add(time.Millisecond) },
		"signature":  func(x *BuildRecord) { x.Signature = append([]byte{x.Signature[0] ^ 1}, x.Signature[1:]...) },
		"no sig":     func(x *BuildRecord) { x.Signature = nil },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			x := r
			mutate(&x)
			require.Error(t, x.Verify())
		})
	}
	// Signed by someone else, claiming to be r.Builder.
	forged, err := SignRecord(testKey(t), BuildRecord{Derivation: r.Derivation, Output: r.Output, Timestamp: r.Timestamp})
	require.NoError(t, err)
	forged.Builder = r.Builder
	require.ErrorContains(t, forged.Verify(), "bad signature")
}

func TestRecordBadInput(t *testing.T) {
	key := testKey(t)
	_, err := SignRecord(key, BuildRecord{Output: testCid(t, "out")})
	require.ErrorContains(t, err, "missing derivation")
	_, err = SignRecord(key, BuildRecord{Derivation: testCid(t, "drv")})
	require.ErrorContains(t, err, "missing output")
	_, err = SignRecord(key, BuildRecord{Derivation: testCid(t, "d"), Output: testCid(t, "o"), Address: strings.Repeat("x", 300)})
	require.ErrorContains(t, err, "address longer")

	_, err = UnmarshalRecord([]byte("{not json"))
	require.Error(t, err)
	_, err = UnmarshalRecord([]byte(`{"derivation":"nope","output":"x","builder":"y"}`))
	require.ErrorContains(t, err, "derivation CID")
	_, err = UnmarshalRecord(make([]byte, MaxRecordSize+1))
	require.ErrorContains(t, err, "more than")
}
