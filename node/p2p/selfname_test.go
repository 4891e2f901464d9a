package p2p

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
)

// TestFetchSelfNamedTree: an output holding a file named after its own
// output and a symlink to it (names rewritten like contents and symlink
// targets, node/storefs/selfname.go) is fetched from a peer, over a closure
// stream and over bitswap alone; on the fetching side the link resolves when
// exported and through the FUSE view (when FUSE is available here).
func TestFetchSelfNamedTree(t *testing.T) {
	for _, tc := range []struct {
		name  string
		noCAR bool
	}{{"carstream", false}, {"bitswap", true}} {
		t.Run(tc.name, func(t *testing.T) {
			opt := func(c *Config) { c.NoCARStream = tc.noCAR }
			a, sa := newStorefsNode(t, opt)
			b, sb := newStorefsNode(t, opt)
			ctx := t.Context()

			ph := string(storefs.Placeholder("fetch-names"))
			src := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(src, "lib", "share-"+ph), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(src, "lib", "lib-"+ph+".so"), []byte("lib of /ipfs/store/"+ph+"\n"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(src, "lib", "share-"+ph, "data"), randomBytes(40, 600<<10), 0o644))
			require.NoError(t, os.Symlink("/ipfs/store/"+ph+"/lib/lib-"+ph+".so", filepath.Join(src, "lib", "libx.so")))
			require.NoError(t, os.Symlink("share-"+ph+"/data", filepath.Join(src, "lib", "data")))
			root, err := sa.AddPath(ctx, src, storefs.AddOptions{PreserveMode: true, SelfRef: []byte(ph)})
			require.NoError(t, err)
			r := root.String()
			connect(t, b, a)
			fetchWhole(t, ctx, b, sa, sb, root)

			// Exported from the fetching store, the absolute symlink (its
			// target rewritten) names the file whose name was rewritten.
			out := filepath.Join(t.TempDir(), r)
			require.NoError(t, sb.Export(ctx, root, out))
			checkSelfNamed(t, filepath.Dir(out), r)

			if fusefs.Available() != nil {
				t.Log("FUSE not available here: mount part skipped")
				return
			}
			mnt := t.TempDir()
			srv, err := fusefs.Mount(sb, mnt, fusefs.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, srv.Unmount()) })
			checkSelfNamed(t, mnt, r)
		})
	}
}

// checkSelfNamed reads the tree of root r under store (standing in for
// /ipfs/store) through its symlinks.
func checkSelfNamed(t *testing.T, store, r string) {
	t.Helper()
	lib := filepath.Join(store, r, "lib")
	ents, err := os.ReadDir(lib)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"data", "lib-" + r + ".so", "libx.so", "share-" + r}, names)
	tgt, err := os.Readlink(filepath.Join(lib, "libx.so"))
	require.NoError(t, err)
	require.Equal(t, "/ipfs/store/"+r+"/lib/lib-"+r+".so", tgt)
	got, err := os.ReadFile(filepath.Join(store, strings.TrimPrefix(tgt, "/ipfs/store/")))
	require.NoError(t, err, "the symlink to the self-named file dangles")
	require.Equal(t, "lib of /ipfs/store/"+r+"\n", string(got))
	data, err := os.ReadFile(filepath.Join(lib, "data"))
	require.NoError(t, err, "the relative symlink into the self-named directory dangles")
	require.Equal(t, randomBytes(40, 600<<10), data)
}
