package builder

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/block"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
)

// mountFUSE serves the store's FUSE view at its mount dir for the test and makes the builder
// bind inputs from it.
func (e *env) mountFUSE() {
	e.t.Helper()
	if err := fusefs.Available(); err != nil {
		e.t.Skip("needs FUSE: " + err.Error())
	}
	srv, err := fusefs.Mount(e.store, e.store.MountDir(), fusefs.Options{AllowOther: true})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = srv.Unmount() })
	yes := true
	e.b.cfg.UseFUSE = &yes
}

// The self-referencing output runs from another build, with its inputs bound from the real FUSE
// store, and finds itself and its data at its real path /ipfs/store/{cid}.
func TestSelfRefThroughFUSE(t *testing.T) {
	e := newEnv(t)
	e.mountFUSE()
	r, sr, want := e.selfRefRun()
	got, err := os.ReadFile(filepath.Join(e.store.MountDir(), r.Output.String()))
	require.NoError(t, err)
	require.Equal(t, want, string(got))
	// On the host, the script read through FUSE carries its real CID, not the placeholder.
	script, err := os.ReadFile(filepath.Join(e.store.MountDir(), sr.Output.String(), "bin", "whereami"))
	require.NoError(t, err)
	require.Contains(t, string(script), "/ipfs/store/"+sr.Output.String()+"/share/data")
	// A symlink to itself points at its real path too.
	link, err := os.Readlink(filepath.Join(e.store.MountDir(), sr.Output.String(), "bin", "data-link"))
	require.NoError(t, err)
	require.Equal(t, "/ipfs/store/"+sr.Output.String()+"/share/data", link)
	fi, err := os.Stat(filepath.Join(e.store.MountDir(), sr.Output.String(), "bin", "whereami"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o555), fi.Mode().Perm())

	// Same CIDs when built from scratch elsewhere (hash modulo self-references).
	e2 := newEnv(t)
	sr2, err := e2.b.Build(context.Background(), e2.example("self-ref/self-ref.json", nil), Options{})
	require.NoError(t, err, e2.log.String())
	require.Equal(t, sr.Output, sr2.Output)
}

// Builds also work with every input bound from FUSE (the normal mode on a node).
func TestMultiStepThroughFUSE(t *testing.T) {
	e := newEnv(t)
	e.mountFUSE()
	lib := e.example("multi-step/lib.json", nil)
	app := e.example("multi-step/app.json", map[string]string{"lib": lib.String()})
	r, err := e.b.Build(context.Background(), app, Options{})
	require.NoError(t, err, e.log.String())
	got, err := os.ReadFile(filepath.Join(e.store.MountDir(), r.Output.String(), "share", "loud"))
	require.NoError(t, err)
	require.Equal(t, "HELLO FROM STEP ONE\n", string(got))
}

// A corrupted input block reaches the build as an I/O error, never as wrong bytes, and the
// build fails.
func TestCorruptInputFailsBuild(t *testing.T) {
	e := newEnv(t)
	e.mountFUSE()
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "src"), []byte("the right bytes\n"), 0o644))
	src, err := e.store.AddPath(ctx, dir, storefs.AddOptions{PreserveMode: true})
	require.NoError(t, err)
	st, err := e.store.Stat(ctx, src, "src")
	require.NoError(t, err)
	blk := e.store.BlockPath(st.CID)
	data, err := os.ReadFile(blk)
	require.NoError(t, err)
	bad := bytes.Replace(data, []byte("right"), []byte("wrong"), 1)
	require.NotEqual(t, data, bad)
	require.NoError(t, os.Chmod(blk, 0o644))
	require.NoError(t, os.WriteFile(blk, bad, 0o444))

	drv := e.add(`{"name":"reads-corrupt","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh",
		"args":["-c","/ipfs/store/@bootstrap@/bin/cat /ipfs/store/@src@/src > $out"],"env":{},"inputs":["@bootstrap@","@src@"],"outputs":["out"]}`,
		map[string]string{"src": src.String()})
	// Not built here, the input is scanned for references first: that read finds the corruption.
	_, err = e.b.Build(ctx, drv, Options{})
	require.ErrorIs(t, err, block.ErrCorrupt)
	// With its references known, the build itself reads it through FUSE and gets EIO.
	require.NoError(t, e.b.store.SetReferences(src, nil))
	_, err = e.b.Build(ctx, drv, Options{})
	require.ErrorIs(t, err, sandbox.ErrExit)
	require.Contains(t, e.log.String(), "Input/output error")
	require.NotContains(t, e.log.String(), "wrong bytes")
}
