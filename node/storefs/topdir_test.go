package storefs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
	"golang.org/x/sys/unix"
)

func dirFlags(t *testing.T, dir string) (uint32, error) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
}

// TestOpenMarksTopDir: a new store root gets chattr +T where the
// filesystem has it (ext4 here), and Open works where it does not (tmpfs).
func TestOpenMarksTopDir(t *testing.T) {
	base := t.TempDir()
	// Does this filesystem take the flag at all? Try on a sibling.
	probe := filepath.Join(base, "probe")
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Fatal(err)
	}
	markTopDir(probe)
	if fl, err := dirFlags(t, probe); err != nil || fl&fsTopdirFL == 0 {
		t.Skipf("filesystem of %s does not keep FS_TOPDIR_FL (flags %#x, %v)", base, fl, err)
	}

	root := filepath.Join(base, "store")
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fl, err := dirFlags(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if fl&fsTopdirFL == 0 {
		t.Fatalf("store root flags %#x: no FS_TOPDIR_FL", fl)
	}
	// Opening again keeps it and works.
	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

// TestOpenWithoutTopDirSupport: on a filesystem that refuses the flag the
// store opens and works as before.
func TestOpenWithoutTopDirSupport(t *testing.T) {
	shm := "/dev/shm"
	if fi, err := os.Stat(shm); err != nil || !fi.IsDir() {
		t.Skip("no /dev/shm")
	}
	base, err := os.MkdirTemp(shm, "storefs-topdir-")
	if err != nil {
		t.Skipf("cannot write %s: %v", shm, err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	markTopDir(base)
	if fl, err := dirFlags(t, base); err == nil && fl&fsTopdirFL != 0 {
		t.Skip("/dev/shm keeps FS_TOPDIR_FL: nothing to check here")
	} else if err != nil && !errors.Is(err, unix.ENOTTY) && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EINVAL) {
		t.Logf("FS_IOC_GETFLAGS on %s: %v", shm, err)
	}
	s, err := Open(filepath.Join(base, "store"))
	if err != nil {
		t.Fatalf("open on a filesystem without FS_TOPDIR_FL: %v", err)
	}
	defer s.Close()
	data := []byte("works without +T")
	c := cid.NewCidV1(cid.Raw, mustSum(t, data))
	if err := s.PutBlock(c, data); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBlock(c); err != nil || string(got) != string(data) {
		t.Fatalf("read back: %q, %v", got, err)
	}
}
