package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSaltFile(t *testing.T) {
	home := t.TempDir()
	p := SaltPath(home, "buildchain-1", 7, "bc1xyz")
	require.Equal(t, filepath.Join(home, "market-salts", "buildchain-1", "7-bc1xyz.json"), p)
	_, _, err := ReadSalt(p)
	require.ErrorContains(t, err, "no salt")
	rec := SaltRecord{ChainID: "buildchain-1", MarketID: 7, Predictor: "bc1xyz", Outcome: "OUTCOME_MISBEHAVIOUR_CLAIM", Salt: "00112233445566778899aabbccddeeff"}
	require.NoError(t, WriteSalt(p, rec))
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, salt, err := ReadSalt(p)
	require.NoError(t, err)
	require.Equal(t, rec, got)
	require.Len(t, salt, 16)
	// A second commit must not destroy the first salt.
	require.ErrorContains(t, WriteSalt(p, SaltRecord{Salt: "ff"}), "already exists")
	got, _, err = ReadSalt(p)
	require.NoError(t, err)
	require.Equal(t, rec, got)
	// Corrupt file: clear error.
	require.NoError(t, os.WriteFile(p, []byte("{"), 0o600))
	_, _, err = ReadSalt(p)
	require.ErrorContains(t, err, "corrupt")
}
