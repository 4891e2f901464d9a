// Package buildertest opens the fresh store and builder that the tests of the builder's
// users (toolchains, Nix import, the Debian toolchains' helpers) start from.
package buildertest

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/storefs"
)

// Open opens a store in dir/ipfs, closed when the test ends, and a builder on it with cfg
// (its StateDir, if empty, dir/builds).
func Open(t testing.TB, dir string, cfg builder.Config) (*storefs.Store, *builder.Builder) {
	t.Helper()
	s, err := storefs.Open(filepath.Join(dir, "ipfs"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(dir, "builds")
	}
	b, err := builder.New(s, cfg)
	require.NoError(t, err)
	return s, b
}
