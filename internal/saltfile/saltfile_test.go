package saltfile

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStore(t *testing.T) {
	s, err := Open(t.TempDir() + "/a/b")
	require.NoError(t, err)
	var got Opening
	found, err := s.Get("x", &got)
	require.NoError(t, err)
	require.False(t, found)

	o := Opening{Derivation: "d", Output: "o", BuildTimeMs: 7, Salt: []byte("0123456789abcdef")}
	require.NoError(t, s.Create("x", o))
	st, err := os.Stat(s.Path("x"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	found, err = s.Get("x", &got)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, o, got)
	// Create never overwrites; Put does.
	require.ErrorIs(t, s.Create("x", Opening{Output: "other"}), ErrExists)
	_, err = s.Get("x", &got)
	require.NoError(t, err)
	require.Equal(t, o, got)
	require.NoError(t, s.Put("x", Opening{Output: "other"}))
	_, err = s.Get("x", &got)
	require.NoError(t, err)
	require.Equal(t, "other", got.Output)

	// Openings are kept by commitment.
	require.NoError(t, s.PutOpening([]byte{1, 2}, o))
	g, found, err := s.GetOpening([]byte{1, 2})
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, o, g)
	_, found, err = s.GetOpening([]byte{3})
	require.NoError(t, err)
	require.False(t, found)

	// A corrupt file is an error that says so.
	require.NoError(t, os.WriteFile(s.Path("x"), []byte("{"), 0o600))
	_, err = s.Get("x", &got)
	require.ErrorContains(t, err, "corrupt")

	salt, err := NewSalt()
	require.NoError(t, err)
	require.Len(t, salt, SaltLen)
}
