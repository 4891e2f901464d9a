package toolchain_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/builder/buildertest"
	"github.com/buildchain/buildchain/node/toolchain"
)

// tiny stages a two-file tree read from Env.Source: a stand-in importer for the registry test.
func init() {
	toolchain.Register(toolchain.Toolchain{
		Name:    "tiny-test",
		Short:   "test toolchain",
		Options: map[string]string{"extra": "add a file"},
		Import: func(ctx context.Context, env *toolchain.Env) (cid.Cid, error) {
			tmp, err := env.TempDir("tiny")
			if err != nil {
				return cid.Undef, err
			}
			defer builder.RemoveAll(tmp)
			data, err := os.ReadFile(filepath.Join(env.Source, "tool"))
			if err != nil {
				return cid.Undef, err
			}
			root := filepath.Join(tmp, "root")
			if err := os.MkdirAll(filepath.Join(root, "bin"), 0o700); err != nil {
				return cid.Undef, err
			}
			if err := os.WriteFile(filepath.Join(root, "bin", "tool"), data, 0o700); err != nil {
				return cid.Undef, err
			}
			if env.Options["extra"] != "" {
				if err := os.WriteFile(filepath.Join(root, "extra"), []byte(env.Options["extra"]), 0o600); err != nil {
					return cid.Undef, err
				}
			}
			return env.AddTree(ctx, root, nil)
		},
	})
}

func newEnv(t *testing.T, src string) (*toolchain.Env, string) {
	t.Helper()
	home := t.TempDir()
	s, b := buildertest.Open(t, home, builder.Config{})
	return &toolchain.Env{Store: s, Builder: b, Source: src}, home
}

// TestRegistryImport: the same toolchain from two source paths into two fresh stores (with
// different umasks on the staged files) gives one CID, recorded for @tiny-test@ and pinned.
func TestRegistryImport(t *testing.T) {
	ctx := context.Background()
	var got []cid.Cid
	for i, perm := range []os.FileMode{0o755, 0o700} {
		src := filepath.Join(t.TempDir(), "src", string(rune('a'+i)))
		require.NoError(t, os.MkdirAll(src, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(src, "tool"), []byte("#!/bin/sh\necho tool\n"), perm))
		env, _ := newEnv(t, src)
		c, err := toolchain.Import(ctx, "tiny-test", "tester", env)
		require.NoError(t, err)
		got = append(got, c)
		vars, err := env.Builder.TemplateVars()
		require.NoError(t, err)
		require.Equal(t, c.String(), vars["tiny-test"])
		filled, err := builder.Template([]byte(`"/ipfs/store/@tiny-test@/bin/tool"`), vars)
		require.NoError(t, err)
		require.Equal(t, `"/ipfs/store/`+c.String()+`/bin/tool"`, string(filled))
		refs, err := env.Builder.References(ctx, c)
		require.NoError(t, err)
		require.Empty(t, refs, "recorded as self-contained, not scanned")
		pins, err := env.Store.ListPins()
		require.NoError(t, err)
		found := false
		for _, p := range pins {
			found = found || (p.Kind == "user" && p.Prog == "toolchains" && p.CID.Equals(c))
		}
		require.True(t, found, "pinned as a GC root")
		mode, err := env.Store.Stat(ctx, c, "bin/tool")
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o555), mode.Mode.Perm(), "canonical modes")
	}
	require.Equal(t, got[0], got[1])

	// An unknown option and an unknown toolchain are refused.
	env, _ := newEnv(t, "")
	_, err := toolchain.Import(ctx, "tiny-test", "", &toolchain.Env{Store: env.Store, Builder: env.Builder, Options: map[string]string{"nope": "1"}})
	require.ErrorIs(t, err, toolchain.ErrUnknownOption)
	_, err = toolchain.Import(ctx, "no-such", "", env)
	require.ErrorIs(t, err, toolchain.ErrUnknown)
	require.Contains(t, err.Error(), "tiny-test", "names the known toolchains")
}
