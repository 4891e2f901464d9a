package block_test

import (
	"testing"

	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/block"
)

func TestVerify(t *testing.T) {
	data := []byte("hello")
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum(data)
	require.NoError(t, err)
	require.NoError(t, block.Verify(c, data))
	require.ErrorIs(t, block.Verify(c, []byte("hellO")), block.ErrCorrupt)

	// Weak hashes are refused even when the bytes match (md5 = 0xd5).
	weak, err := cid.V1Builder{Codec: cid.Raw, MhType: 0xd5}.Sum(data)
	require.NoError(t, err)
	require.Error(t, block.Verify(weak, data))
}
