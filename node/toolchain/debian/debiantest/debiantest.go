// Package debiantest is what the tests of the Debian toolchains (node/toolchain/gcctoolchain,
// rusttoolchain) and of their users (node/cargobuild) share: the check that `make deps` filled
// the .deb cache, a fresh store and builder, toolchain imports, copies between stores, and
// builds of derivation templates.
package debiantest

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/builder/buildertest"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
	"github.com/buildchain/buildchain/node/toolchain"
	"github.com/buildchain/buildchain/node/toolchain/debian"
)

// NeedRoot skips the test unless it runs as root (builds use user, mount and pid namespaces).
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds run in user/mount/pid namespaces")
	}
}

// Debs is the .deb cache `make deps` fills (tests never download); it skips the test unless
// the cache holds busybox, patchelf and every package of tcs.
func Debs(t testing.TB, tcs ...debian.Debian) string {
	t.Helper()
	NeedRoot(t)
	dir := debian.DefaultDebCache()
	lock, err := debian.DebianLock()
	require.NoError(t, err)
	names := []string{debian.BusyboxPackage, debian.PatchelfPackage}
	for _, tc := range tcs {
		names = append(names, tc.Packages...)
	}
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, lock[name].Filename())); err != nil {
			t.Skipf("%s not in %s: run `make deps`", lock[name].Filename(), dir)
		}
	}
	return dir
}

// CopyDebs copies the cached .debs to a fresh directory: another source path.
func CopyDebs(t testing.TB, from string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".deb" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, e.Name()), data, 0o644))
	}
	return to
}

// Env is a fresh store and builder.
type Env struct {
	T       testing.TB
	Store   *storefs.Store
	Builder *builder.Builder
	// TC is what toolchain.Import gets (TC.Source: where the .debs are).
	TC *toolchain.Env
	// Log has the builds' and imports' output.
	Log *bytes.Buffer
}

// New is a fresh store and builder in a temporary home. With fuse, inputs are bound from the
// store's real FUSE mount (as on a node), so builds read the toolchains at their real CIDs.
func New(t testing.TB, fuse bool) *Env {
	t.Helper()
	NeedRoot(t)
	home := t.TempDir()
	require.NoError(t, os.Chmod(home, 0o755))
	log := &bytes.Buffer{}
	s, b := buildertest.Open(t, home, builder.Config{Log: log, Timeout: 10 * time.Minute, UseFUSE: &fuse})
	if fuse {
		if err := fusefs.Available(); err != nil {
			t.Skip("needs FUSE: " + err.Error())
		}
		srv, err := fusefs.Mount(s, s.MountDir(), fusefs.Options{AllowOther: true})
		require.NoError(t, err)
		t.Cleanup(func() { _ = srv.Unmount() })
	}
	return &Env{T: t, Store: s, Builder: b, Log: log,
		TC: &toolchain.Env{Store: s, Builder: b, Options: map[string]string{}, Log: io.MultiWriter(log, testLog{t})}}
}

// testLog shows the importers' phases as they happen (go test -v).
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Import imports toolchain name from the .debs in source ("" for the default cache).
func (e *Env) Import(name, source string) cid.Cid {
	e.T.Helper()
	e.TC.Source = source
	start := time.Now()
	c, err := toolchain.Import(context.Background(), name, "root", e.TC)
	require.NoError(e.T, err, e.Log.String())
	e.T.Logf("%s imported in %s", name, time.Since(start).Round(time.Millisecond))
	return c
}

// Bootstrap is the builder's busybox (imported with the first toolchain).
func (e *Env) Bootstrap() cid.Cid {
	e.T.Helper()
	bb, err := e.Builder.Bootstrap()
	require.NoError(e.T, err)
	return bb
}

// CopyTo gives e2 store path c of e with its references (every block hash-checked on import:
// the same CID), as if built or imported there; a non-empty name records it as that toolchain.
func (e *Env) CopyTo(e2 *Env, name string, c cid.Cid) {
	e.T.Helper()
	ctx := context.Background()
	r, w := io.Pipe()
	go func() { w.CloseWithError(e.Store.ExportCAR(ctx, c, w)) }()
	_, err := e2.Store.ImportCAR(ctx, r)
	require.NoError(e.T, err)
	require.NoError(e.T, e2.Store.Pin("root", "toolchains", c))
	refs, err := e.Builder.References(ctx, c)
	require.NoError(e.T, err)
	require.NoError(e.T, e2.Builder.RecordRefs(c, refs))
	if name != "" {
		require.NoError(e.T, e2.Builder.RecordToolchain(name, c))
	}
}

// Build fills a derivation template (@gcc@, @rust@, @bootstrap@, @system@ from what was
// imported, plus vars), adds and builds it.
func (e *Env) Build(tmpl string, vars map[string]string) (*builder.Result, error) {
	e.T.Helper()
	all, err := e.Builder.TemplateVars()
	require.NoError(e.T, err)
	for k, v := range vars {
		all[k] = v
	}
	filled, err := builder.Template([]byte(tmpl), all)
	require.NoError(e.T, err)
	d, err := derivation.Parse(filled)
	require.NoError(e.T, err)
	drv, err := e.Builder.AddDerivation(d)
	require.NoError(e.T, err)
	return e.Builder.Build(context.Background(), drv, builder.Options{})
}

// Cat is file p of store path root.
func (e *Env) Cat(root cid.Cid, p string) string {
	e.T.Helper()
	var buf bytes.Buffer
	require.NoError(e.T, e.Store.Cat(context.Background(), root, p, &buf))
	return buf.String()
}
