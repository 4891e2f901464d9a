package fusefs

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/storefs"
)

// SystemDir is where build outputs expect the store: the directory their #! lines and
// references name (derivation.StorePrefix). A store mounted there makes installed programs
// run as plain commands, as /nix/store does for Nix.
var SystemDir = strings.TrimSuffix(derivation.StorePrefix, "/")

// fsNamePrefix starts the source of every store mount; the store root follows, so the
// kernel's mount table itself says which store a mount point serves (MountedStore).
const fsNamePrefix = "buildchain-store:"

// MountedStore returns the root of the store whose view is mounted at dir (the topmost
// mount there), from /proc/self/mountinfo; ok is false when no store view is mounted there.
func MountedStore(dir string) (root string, ok bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// "36 35 0:52 / /ipfs/store ro,... shared:1 - fuse.buildchain buildchain-store:/root ro,..."
		pre, post, found := strings.Cut(sc.Text(), " - ")
		if !found {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 2 || unescapeMountinfo(pf[4]) != dir || !strings.HasPrefix(qf[0], "fuse.") {
			continue
		}
		if src := unescapeMountinfo(qf[1]); strings.HasPrefix(src, fsNamePrefix) {
			root, ok = strings.TrimPrefix(src, fsNamePrefix), true
		} else {
			root, ok = "", false // a later mount of something else hides it
		}
	}
	return root, ok
}

// ViewDir is where s's files are visible on this host: SystemDir when s is mounted there,
// else s's own mount directory. Profiles link into it.
func ViewDir(s *storefs.Store) string {
	if root, ok := MountedStore(SystemDir); ok && root == s.Root() {
		return SystemDir
	}
	return s.MountDir()
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space, \134 for a
// backslash...) in a mountinfo field.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
