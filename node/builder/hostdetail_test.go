package builder

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// recordMounts is a derivation whose output is what a build sees of its mounts: the mount table
// with the fields the kernel numbers (mount id, parent id, device) cut off, since those are
// counters that differ between two builds on one machine too (node/sandbox/layers_linux.go).
const recordMounts = `{"name":"mounts","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh",
	"args":["-c","PATH=/ipfs/store/@bootstrap@/bin\nmkdir $out\ncut -d' ' -f4- /proc/self/mountinfo > $out/mountinfo\ncat /proc/self/mounts > $out/mounts\npwd > /build/here\nls -a /build /ipfs/store > $out/ls"],
	"env":{},"inputs":["@bootstrap@"],"outputs":["out"]}`

// No host path reaches a build through /proc/self/mountinfo or /proc/self/mounts (issue 13): the
// store's and builder's directories, the pid and random suffix of the work directory, the host
// device of the bind mounts.
func TestMountinfoHidesHost(t *testing.T) {
	e := newEnv(t)
	e.mountFUSE() // inputs from the FUSE store, as on a node
	r, err := e.b.Build(context.Background(), e.add(recordMounts, nil), Options{})
	require.NoError(t, err, e.log.String())
	info, mounts := e.cat(r.Output, "mountinfo"), e.cat(r.Output, "mounts")
	t.Log(info)
	for _, leak := range []string{e.home, e.b.cfg.StateDir, e.store.MountDir(), os.TempDir() + "/", strconv.Itoa(os.Getpid()) + "-", "/dev/vd", "/dev/sd", "/dev/nvme", "ext4", "fuse"} {
		require.NotContains(t, info, leak)
		require.NotContains(t, mounts, leak)
	}
	// Every mount of a host directory is an overlay rooted at "/" with layer paths relative to a
	// staging area that is gone (field 1 is the root below the mount's filesystem, field 2 the
	// mount point).
	var seen int
	for _, line := range strings.Split(strings.TrimSpace(info), "\n") {
		f := strings.Fields(line)
		if !strings.HasPrefix(f[1], "/ipfs/store") && f[1] != "/build" {
			continue
		}
		seen++
		require.Equal(t, "/", f[0], line)
		require.Contains(t, line, " - overlay sandbox ", line)
	}
	require.Equal(t, 3, seen, "/build, the store view and one input")
	require.NotContains(t, e.cat(r.Output, "ls"), ".stage")
	require.NotContains(t, e.cat(r.Output, "ls"), ".sandbox-work")
}

// The same derivation recording its mounts builds to the same CID on two stores with different
// roots, one reading its inputs through FUSE and one from exported directories.
func TestMountinfoReproducible(t *testing.T) {
	e1, e2 := newEnv(t), newEnv(t)
	require.NotEqual(t, e1.home, e2.home)
	e1.mountFUSE()
	r1, err := e1.b.Build(context.Background(), e1.add(recordMounts, nil), Options{})
	require.NoError(t, err, e1.log.String())
	r2, err := e2.b.Build(context.Background(), e2.add(recordMounts, nil), Options{})
	require.NoError(t, err, e2.log.String())
	require.Equal(t, e1.cat(r1.Output, "mountinfo"), e2.cat(r2.Output, "mountinfo"))
	require.Equal(t, r1.Output, r2.Output)
}
