package runtime

import (
	"context"
	"testing"

	cid "github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
)

// TestFetchBringsRuntimeReferences: a derivation whose input (a built store path) names another
// store path at run time (a script's #! line naming busybox) but not as an input: fetching the
// derivation from a peer brings that store path too (builder.RuntimeClosure), and holds it until
// release.
func TestFetchBringsRuntimeReferences(t *testing.T) {
	ctx := context.Background()
	pub, bld, bb := publisherAndBuilder(t)
	sh := "/ipfs/store/" + bb.String() + "/bin/sh"
	script, err := pub.Builder().AddDerivation(&derivation.Derivation{Name: "script", System: builder.HostSystem(),
		Builder: sh, Args: []string{"-c", "/ipfs/store/" + bb.String() + "/bin/mkdir -p $out/bin && printf '#!" + sh +
			"\\necho hi\\n' > $out/bin/hi"},
		Env: map[string]string{}, Inputs: []derivation.Input{{CID: bb}}, Outputs: []string{"out"}})
	require.NoError(t, err)
	res, err := pub.Builder().Build(ctx, script, builder.Options{})
	require.NoError(t, err)
	refs, err := pub.Builder().References(ctx, res.Output)
	require.NoError(t, err)
	require.Equal(t, []cid.Cid{bb}, refs, "the script names busybox at run time")
	// Its user names only the script's output; busybox comes by reference.
	user, err := pub.Builder().AddDerivation(&derivation.Derivation{Name: "user", System: builder.HostSystem(),
		Builder: "/ipfs/store/" + res.Output.String() + "/bin/hi", Env: map[string]string{},
		Inputs: []derivation.Input{{CID: res.Output}}, Outputs: []string{"out"}})
	require.NoError(t, err)
	require.NoError(t, pub.Store().Pin("test", "publish", user))

	has := func(c cid.Cid) bool {
		ok, err := bld.Store().HasBlock(c)
		require.NoError(t, err)
		return ok
	}
	require.False(t, has(bb))
	_, release, err := bld.Fetch(ctx, user, nil)
	require.NoError(t, err)
	for _, c := range []cid.Cid{user, res.Output, bb} {
		require.True(t, has(c), "%s fetched", c)
	}
	_, err = bld.Store().Closure(bb)
	require.NoError(t, err, "busybox's whole closure is local")
	_, err = bld.Store().GC(ctx)
	require.NoError(t, err)
	require.True(t, has(bb), "held until release")
	release()
	_, err = bld.Store().GC(ctx)
	require.NoError(t, err)
	require.False(t, has(bb), "released")

}
