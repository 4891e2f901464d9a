package debian

import (
	"os"
	"path/filepath"
)

// DebCacheEnv names the directory of verified .debs when set; else it is $BUILDCHAIN_HOME/debs,
// else ~/.buildchain/debs (what `make deps` fills).
const DebCacheEnv = "BUILDCHAIN_DEB_CACHE"

// DefaultDebCache returns the .deb cache directory (see DebCacheEnv).
func DefaultDebCache() string {
	if d := os.Getenv(DebCacheEnv); d != "" {
		return d
	}
	if h := os.Getenv("BUILDCHAIN_HOME"); h != "" {
		return filepath.Join(h, "debs")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".buildchain", "debs")
	}
	return filepath.Join(os.TempDir(), "buildchain-debs")
}
