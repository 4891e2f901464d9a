package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/internal/saltfile"
)

func TestSaltFile(t *testing.T) {
	home := t.TempDir()
	s, err := OpenSalts(home, "buildchain-1")
	require.NoError(t, err)
	p := s.Path(7, "bc1xyz")
	require.Equal(t, filepath.Join(home, "market-salts", "buildchain-1", "7-bc1xyz.json"), p)
	_, _, err = s.Read(7, "bc1xyz")
	require.ErrorContains(t, err, "no salt")
	rec := SaltRecord{ChainID: "buildchain-1", MarketID: 7, Predictor: "bc1xyz", Outcome: "OUTCOME_MISBEHAVIOUR_CLAIM", Salt: "00112233445566778899aabbccddeeff"}
	require.NoError(t, s.Write(rec))
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, salt, err := s.Read(7, "bc1xyz")
	require.NoError(t, err)
	require.Equal(t, rec, got)
	require.Len(t, salt, 16)
	// A second commit must not destroy the first salt.
	require.ErrorIs(t, s.Write(SaltRecord{MarketID: 7, Predictor: "bc1xyz", Salt: "ff"}), saltfile.ErrExists)
	got, _, err = s.Read(7, "bc1xyz")
	require.NoError(t, err)
	require.Equal(t, rec, got)
	// Corrupt file: clear error.
	require.NoError(t, os.WriteFile(p, []byte("{"), 0o600))
	_, _, err = s.Read(7, "bc1xyz")
	require.ErrorContains(t, err, "corrupt")
}
