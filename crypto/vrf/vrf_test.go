package vrf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// RFC 9381 Appendix B.4, ECVRF-EDWARDS25519-SHA512-ELL2, Examples 19-21.
// (SK/PK/alpha are the RFC 8032 §7.1 test keys and messages.)
var rfc9381Vectors = []struct {
	name, sk, pk, alpha, pi, beta string
}{
	{
		name:  "Example 19",
		sk:    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		pk:    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		alpha: "",
		pi:    "7d9c633ffeee27349264cf5c667579fc583b4bda63ab71d001f89c10003ab46f14adf9a3cd8b8412d9038531e865c341cafa73589b023d14311c331a9ad15ff2fb37831e00f0acaa6d73bc9997b06501",
		beta:  "9d574bf9b8302ec0fc1e21c3ec5368269527b87b462ce36dab2d14ccf80c53cccf6758f058c5b1c856b116388152bbe509ee3b9ecfe63d93c3b4346c1fbc6c54",
	},
	{
		name:  "Example 20",
		sk:    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		pk:    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		alpha: "72",
		pi:    "47b327393ff2dd81336f8a2ef10339112401253b3c714eeda879f12c509072ef055b48372bb82efbdce8e10c8cb9a2f9d60e93908f93df1623ad78a86a028d6bc064dbfc75a6a57379ef855dc6733801",
		beta:  "38561d6b77b71d30eb97a062168ae12b667ce5c28caccdf76bc88e093e4635987cd96814ce55b4689b3dd2947f80e59aac7b7675f8083865b46c89b2ce9cc735",
	},
	{
		name:  "Example 21",
		sk:    "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
		pk:    "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
		alpha: "af82",
		pi:    "926e895d308f5e328e7aa159c06eddbe56d06846abf5d98c2512235eaa57fdce35b46edfc655bc828d44ad09d1150f31374e7ef73027e14760d42e77341fe05467bb286cc2c9d7fde29120a0b2320d04",
		beta:  "121b7f9b9aaaa29099fc04a94ba52784d44eac976dd1a3cca458733be5cd090a7b5fbd148444f17f8daf1fb55cb04b1ae85a626e30a54b4b0f8abf4a43314a58",
	},
}

func TestRFC9381Vectors(t *testing.T) {
	for _, v := range rfc9381Vectors {
		t.Run(v.name, func(t *testing.T) {
			k, err := NewKeyFromSeed(unhex(t, v.sk))
			require.NoError(t, err)
			require.Equal(t, v.pk, hex.EncodeToString(k.Public()))
			alpha := unhex(t, v.alpha)

			pi := k.Prove(alpha)
			require.Equal(t, v.pi, hex.EncodeToString(pi))

			beta, err := Verify(k.Public(), pi, alpha)
			require.NoError(t, err)
			require.Equal(t, v.beta, hex.EncodeToString(beta))

			beta2, err := ProofToHash(pi)
			require.NoError(t, err)
			require.Equal(t, beta, beta2)

			p2, out := k.Evaluate(alpha)
			require.Equal(t, pi, p2)
			require.Equal(t, beta, out)
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	k, err := GenerateKey(nil)
	require.NoError(t, err)
	other, err := GenerateKey(nil)
	require.NoError(t, err)
	alpha := []byte("prev-randomness||height")
	pi := k.Prove(alpha)

	_, err = Verify(k.Public(), pi, alpha)
	require.NoError(t, err)

	// Wrong key, wrong message, flipped bits in every part of the proof.
	_, err = Verify(other.Public(), pi, alpha)
	require.ErrorIs(t, err, ErrInvalidProof)
	_, err = Verify(k.Public(), pi, []byte("other"))
	require.ErrorIs(t, err, ErrInvalidProof)
	for _, i := range []int{0, 31, 32, 47, 48, 79} {
		bad := bytes.Clone(pi)
		bad[i] ^= 0x01
		_, err = Verify(k.Public(), bad, alpha)
		require.Error(t, err, "flipped byte %d", i)
	}
	// Truncated / empty proofs and malformed keys.
	_, err = Verify(k.Public(), pi[:79], alpha)
	require.ErrorIs(t, err, ErrInvalidProof)
	_, err = Verify(k.Public(), nil, alpha)
	require.ErrorIs(t, err, ErrInvalidProof)
	_, err = Verify(k.Public()[:31], pi, alpha)
	require.ErrorIs(t, err, ErrInvalidPublicKey)
	// The identity point (0,1) encodes as 01 00..00: small order, must be refused.
	identity := make([]byte, PublicKeySize)
	identity[0] = 1
	require.ErrorIs(t, ValidatePublicKey(identity), ErrInvalidPublicKey)
	_, err = Verify(identity, pi, alpha)
	require.ErrorIs(t, err, ErrInvalidPublicKey)
	// Non-canonical: y = p (2^255-19) encoded literally.
	nonCanon := unhex(t, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	require.ErrorIs(t, ValidatePublicKey(nonCanon), ErrInvalidPublicKey)
	require.NoError(t, ValidatePublicKey(k.Public()))
}

func TestProveDeterministicAndUnique(t *testing.T) {
	k, err := GenerateKey(nil)
	require.NoError(t, err)
	a := k.Prove([]byte("x"))
	b := k.Prove([]byte("x"))
	c := k.Prove([]byte("y"))
	require.Equal(t, a, b)
	require.NotEqual(t, a, c)
	_, err = NewKeyFromSeed(make([]byte, 31))
	require.Error(t, err)
}

func TestKeyFile(t *testing.T) {
	home := t.TempDir()
	path := KeyFilePath(home)

	k, created, err := LoadOrGenerateKeyFile(path)
	require.NoError(t, err)
	require.True(t, created)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	k2, created, err := LoadOrGenerateKeyFile(path)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, k.Seed(), k2.Seed())

	// Never overwrite an existing key.
	other, err := GenerateKey(nil)
	require.NoError(t, err)
	err = SaveKeyFile(path, other)
	require.ErrorIs(t, err, fs.ErrExist)
	k3, err := LoadKeyFile(path)
	require.NoError(t, err)
	require.Equal(t, k.Seed(), k3.Seed())

	// Corrupted files give clear errors.
	bad := filepath.Join(home, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("{not json"), 0o600))
	_, err = LoadKeyFile(bad)
	require.Error(t, err)
	mismatch := `{"suite":"` + SuiteName + `","seed":"` + hex.EncodeToString(k.Seed()) +
		`","public_key":"` + hex.EncodeToString(other.Public()) + `"}`
	require.NoError(t, os.WriteFile(bad, []byte(mismatch), 0o600))
	_, err = LoadKeyFile(bad)
	require.ErrorContains(t, err, "does not match")
	wrongSuite := `{"suite":"ECVRF-P256-SHA256-TAI","seed":"` + hex.EncodeToString(k.Seed()) + `"}`
	require.NoError(t, os.WriteFile(bad, []byte(wrongSuite), 0o600))
	_, err = LoadKeyFile(bad)
	require.ErrorContains(t, err, "suite")
	_, err = LoadKeyFile(filepath.Join(home, "missing.json"))
	require.True(t, errors.Is(err, fs.ErrNotExist))
}

func BenchmarkProve(b *testing.B) {
	k, _ := GenerateKey(nil)
	alpha := make([]byte, 72)
	for i := 0; i < b.N; i++ {
		k.Prove(alpha)
	}
}

func BenchmarkVerify(b *testing.B) {
	k, _ := GenerateKey(nil)
	alpha := make([]byte, 72)
	pi := k.Prove(alpha)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Verify(k.Public(), pi, alpha); err != nil {
			b.Fatal(err)
		}
	}
}
