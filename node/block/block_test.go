package block_test

import (
	"testing"

	blocks "github.com/ipfs/go-block-format"
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

func TestCheck(t *testing.T) {
	data := []byte("checked")
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum(data)
	require.NoError(t, err)
	b, err := block.Check(c, data)
	require.NoError(t, err)
	require.Equal(t, c, b.Cid())
	require.Equal(t, data, b.RawData())
	var _ blocks.Block = b // goes wherever a blocks.Block does

	_, err = block.Check(c, []byte("checkeD"))
	require.ErrorIs(t, err, block.ErrCorrupt)
	require.False(t, block.Checked{}.Cid().Defined())
}
