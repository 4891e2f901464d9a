package fusefs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/buildchain/buildchain/node/storefs"
)

// The kernel's mount table says which store a mount point serves, also for paths the
// kernel escapes (a space), and stops saying so once it is unmounted.
func TestMountedStore(t *testing.T) {
	needFUSE(t)
	root := filepath.Join(t.TempDir(), "a store")
	s, err := storefs.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mnt := filepath.Join(t.TempDir(), "the view")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := MountedStore(mnt); ok {
		t.Fatal("a store reported at an empty directory")
	}
	srv, err := Mount(s, mnt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := MountedStore(mnt + "/")
	if !ok || got != s.Root() {
		srv.Unmount()
		t.Fatalf("MountedStore(%q) = %q, %v; want %q", mnt, got, ok, s.Root())
	}
	// Not at SystemDir: profiles link into the store's own view directory.
	if v := ViewDir(s); v != s.MountDir() {
		t.Errorf("ViewDir = %q, want %q (the store is not mounted at %s)", v, s.MountDir(), SystemDir)
	}
	if err := srv.Unmount(); err != nil {
		t.Fatal(err)
	}
	if _, ok := MountedStore(mnt); ok {
		t.Fatal("store still reported after unmount")
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:              "/plain",
		`/a\040b`:             "/a b",
		`/back\134slash`:      `/back\slash`,
		`/tab\011and\012nl`:   "/tab\tand\nnl",
		`/short\04`:           `/short\04`,
		`buildchain-store:/x`: "buildchain-store:/x",
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
