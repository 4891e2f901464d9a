package types_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/x/claims/types"
)

var salt = bytes.Repeat([]byte{7}, types.MinSaltLen)

// Every field of a build commitment is bound: changing any one changes the hash, so a
// builder cannot open another's commitment (copied from its tx) as its own, nor move it to
// another claim or round, nor change its output or time after committing.
func TestBuildCommitmentBindsEveryField(t *testing.T) {
	base := types.BuildCommitment("bc1val", 7, 2, "bafyout", 1234, salt)
	require.Len(t, base, types.CommitmentLen)
	require.Equal(t, base, types.BuildCommitment("bc1val", 7, 2, "bafyout", 1234, salt), "deterministic")
	for name, other := range map[string][]byte{
		"validator": types.BuildCommitment("bc1copier", 7, 2, "bafyout", 1234, salt),
		"claim":     types.BuildCommitment("bc1val", 8, 2, "bafyout", 1234, salt),
		"round":     types.BuildCommitment("bc1val", 7, 3, "bafyout", 1234, salt),
		"output":    types.BuildCommitment("bc1val", 7, 2, "bafyother", 1234, salt),
		"time":      types.BuildCommitment("bc1val", 7, 2, "bafyout", 1235, salt),
		"salt":      types.BuildCommitment("bc1val", 7, 2, "bafyout", 1234, append([]byte{8}, salt[1:]...)),
	} {
		require.NotEqual(t, base, other, name)
	}
}

// A publisher's commitment binds publisher and derivation: another publisher cannot submit a
// copy of it and open it once the first publisher revealed.
func TestClaimCommitmentBindsPublisherAndDerivation(t *testing.T) {
	base := types.ClaimCommitment("bc1pub", "bagdrv", "bafyout", salt)
	require.NotEqual(t, base, types.ClaimCommitment("bc1copier", "bagdrv", "bafyout", salt))
	require.NotEqual(t, base, types.ClaimCommitment("bc1pub", "bagother", "bafyout", salt))
	require.NotEqual(t, base, types.ClaimCommitment("bc1pub", "bagdrv", "bafyother", salt))
}

// Length prefixes: moving bytes between adjacent fields changes the hash; the two kinds of
// commitment never coincide (different domains).
func TestCommitmentEncodingIsUnambiguous(t *testing.T) {
	require.NotEqual(t, types.ClaimCommitment("ab", "c", "d", salt), types.ClaimCommitment("a", "bc", "d", salt))
	require.NotEqual(t, types.ClaimCommitment("a", "b", "cd", salt), types.ClaimCommitment("a", "bc", "d", salt))
}

func TestValidateSaltAndCommitment(t *testing.T) {
	require.NoError(t, types.ValidateSalt(salt))
	require.ErrorIs(t, types.ValidateSalt(salt[1:]), types.ErrInvalidSalt)
	require.ErrorIs(t, types.ValidateSalt(make([]byte, types.MaxSaltLen+1)), types.ErrInvalidSalt)
	require.NoError(t, types.ValidateCommitment("c", make([]byte, 32)))
	require.ErrorIs(t, types.ValidateCommitment("c", make([]byte, 31)), types.ErrInvalidCommitment)
}
