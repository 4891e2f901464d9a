// Package smallfs gives tests a small filesystem of their own to fill up: a size-limited tmpfs
// mounted on a temporary directory (root only), and a filler file that takes its free space.
// The full-disk tests of the store, the p2p fetch and the builder use it (issue 13: each
// operation that fills the disk fails with a clear error, leaves nothing half-written, and
// succeeds once space is freed).
package smallfs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Mount mounts a tmpfs of the given size ("24m") on a new temporary directory and returns its
// path; it is unmounted when the test ends. Skips the test when not root.
func Mount(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a size-limited tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("fulldisk", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// Fill writes a file of n bytes in dir and returns its path; removing it frees the space.
func Fill(t testing.TB, dir string, n int64) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
		t.Fatalf("fill %s: %v", dir, err)
	}
	return p
}

// Free returns the bytes available on the filesystem of dir.
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatalf("statfs %s: %v", dir, err)
	}
	return int64(st.Bavail) * st.Bsize
}

// FillTo writes a filler file in dir that leaves about free bytes available.
func FillTo(t testing.TB, dir string, free int64) string {
	t.Helper()
	n := Free(t, dir) - free
	if n < 0 {
		t.Fatalf("%s has only %d bytes free, want %d", dir, Free(t, dir), free)
	}
	return Fill(t, dir, n)
}
