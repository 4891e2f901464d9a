package builder

import (
	"context"

	"github.com/ipfs/go-cid"
)

// InputPath is the host path where builds read store path c (its FUSE view, or a materialised
// copy under StateDir/inputs): for tools that run a store path's programs outside the sandbox.
func (b *Builder) InputPath(ctx context.Context, c cid.Cid) (string, error) {
	return b.inputSource(ctx, c)
}

// StateDir is the builder's state directory (Config.StateDir).
func (b *Builder) StateDir() string { return b.cfg.StateDir }

// LogPath is the build log of the resolved derivation rc.
func (b *Builder) LogPath(rc cid.Cid) string { return b.logPath(rc) }
