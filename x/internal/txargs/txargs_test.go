package txargs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsing(t *testing.T) {
	id, err := ID("claim id", "7")
	require.NoError(t, err)
	require.EqualValues(t, 7, id)
	for _, bad := range []string{"0", "-1", "x", ""} {
		_, err := ID("market id", bad)
		require.ErrorContains(t, err, `market id "`+bad+`" must be a positive integer`)
	}
	r, err := Round("3")
	require.NoError(t, err)
	require.EqualValues(t, 3, r)
	_, err = Round("4294967296")
	require.ErrorContains(t, err, `round "4294967296"`)
	ms, err := Uint("build time", "4321")
	require.NoError(t, err)
	require.EqualValues(t, 4321, ms)
	_, err = Uint("build time", "1.5")
	require.ErrorContains(t, err, `build time "1.5"`)
}
