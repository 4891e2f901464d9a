package gotoolchain

import (
	"archive/zip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/builder/buildertest"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
)

// cachedZip is the default pin's zip in the module cache (scripts/deps.sh puts it there).
func cachedZip(t *testing.T) (Pin, string) {
	t.Helper()
	pin, err := Lookup("")
	require.NoError(t, err)
	p := CachePath(pin)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not in the module cache: run `make deps`", pin.Version)
	}
	return pin, p
}

func newEnv(t *testing.T) *toolchain.Env {
	t.Helper()
	s, b := buildertest.Open(t, t.TempDir(), builder.Config{})
	return &toolchain.Env{Store: s, Builder: b, Options: map[string]string{}}
}

func blocks(t *testing.T, s *storefs.Store) int {
	t.Helper()
	all, err := s.AllBlocks()
	require.NoError(t, err)
	return len(all)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	out, err := os.Create(dst)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// TestImportTwice imports the pinned toolchain into two fresh stores from two different
// places: a copy of the zip given with --source, and a download from a GOPROXY (an HTTP
// server on 127.0.0.1) with an empty module cache. Both give the same CID; the tree is
// trimmed, executable where the go command makes it so, and self-contained.
func TestImportTwice(t *testing.T) {
	pin, zipPath := cachedZip(t)
	ctx := context.Background()

	local := filepath.Join(t.TempDir(), "somewhere", "go.zip")
	copyFile(t, zipPath, local)
	env1 := newEnv(t)
	env1.Source = local
	c1, err := toolchain.Import(ctx, "go", "tester", env1)
	require.NoError(t, err)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+Module+"/@v/"+pin.Version+".zip" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, zipPath)
	}))
	defer srv.Close()
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOPROXY", srv.URL+"/missing,"+srv.URL) // the first proxy 404s: the next is tried
	env2 := newEnv(t)
	c2, err := toolchain.Import(ctx, "go", "", env2)
	require.NoError(t, err)
	require.Equal(t, c1, c2, "same CID from another path and source")

	s := env1.Store
	for _, p := range []string{"bin/go", "bin/gofmt", "pkg/tool/linux_amd64/compile", "pkg/tool/linux_amd64/link"} {
		e, err := s.Stat(ctx, c1, p)
		require.NoError(t, err, p)
		require.Equal(t, os.FileMode(0o555), e.Mode.Perm(), p)
	}
	e, err := s.Stat(ctx, c1, "src/fmt/print.go")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o444), e.Mode.Perm())
	var version strings.Builder
	require.NoError(t, s.Cat(ctx, c1, "VERSION", &version))
	require.True(t, strings.HasPrefix(version.String(), "go"+pin.GoVersion()+"\n"), version.String())
	for _, p := range []string{"src/fmt/fmt_test.go", "src/fmt/testdata", "src/debug/elf/testdata"} {
		_, err := s.Stat(ctx, c1, p)
		require.Error(t, err, "%s is trimmed", p)
	}
	refs, err := env1.Builder.References(ctx, c1)
	require.NoError(t, err)
	require.Empty(t, refs)
	vars, err := env2.Builder.TemplateVars()
	require.NoError(t, err)
	require.Equal(t, c2.String(), vars["go"])
}

// rewriteZip copies the zip entries of src into dst unchanged (raw), except those edit
// returns data for, and adds extra files.
func rewriteZip(t *testing.T, src, dst string, edit func(name string) []byte, extra map[string][]byte) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	require.NoError(t, err)
	defer zr.Close()
	f, err := os.Create(dst)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	for _, zf := range zr.File {
		if data := edit(zf.Name); data != nil {
			w, err := zw.Create(zf.Name)
			require.NoError(t, err)
			_, err = w.Write(data)
			require.NoError(t, err)
			continue
		}
		r, err := zf.OpenRaw()
		require.NoError(t, err)
		w, err := zw.CreateRaw(&zf.FileHeader)
		require.NoError(t, err)
		_, err = io.Copy(w, r)
		require.NoError(t, err)
	}
	for name, data := range extra {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
}

// TestBadInput: a zip with a wrong checksum (one file edited), a zip whose bin/go is a
// dynamic ELF (its own checksum pinned, so only the static check can refuse it), an
// unpinned version and a proxy without the zip: each a clear error and an untouched store.
func TestBadInput(t *testing.T) {
	pin, zipPath := cachedZip(t)
	ctx := context.Background()
	prefix := Module + "@" + pin.Version + "/"
	env := newEnv(t)
	before := blocks(t, env.Store)

	tampered := filepath.Join(t.TempDir(), "tampered.zip")
	rewriteZip(t, zipPath, tampered, func(name string) []byte {
		if name == prefix+"src/fmt/print.go" {
			return []byte("package fmt // tampered\n")
		}
		return nil
	}, nil)
	env.Source = tampered
	_, err := toolchain.Import(ctx, "go", "tester", env)
	require.ErrorIs(t, err, ErrChecksum)
	require.ErrorContains(t, err, pin.Sum, "names the pinned checksum")
	require.Equal(t, before, blocks(t, env.Store))

	// A toolchain whose go command is dynamically linked (Debian's /bin/true stands in).
	dyn, err := os.ReadFile("/bin/true")
	require.NoError(t, err)
	require.ErrorIs(t, builder.CheckStatic(dyn), builder.ErrDynamic, "/bin/true is dynamic on Debian")
	bad := filepath.Join(t.TempDir(), "dynamic.zip")
	f, err := os.Create(bad)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	for name, data := range map[string][]byte{"bin/go": dyn, "VERSION": []byte("go" + pin.GoVersion() + "\n"), "src/fmt/print.go": []byte("package fmt\n")} {
		w, err := zw.Create(prefix + name)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	sum, err := dirhash.HashZip(bad, dirhash.Hash1)
	require.NoError(t, err)
	_, err = Import(ctx, env, Pin{Version: pin.Version, Sum: sum}, Options{Zip: bad, Trim: true})
	require.ErrorIs(t, err, ErrNotStatic)
	require.ErrorContains(t, err, "bin/go")
	require.ErrorContains(t, err, "program interpreter")
	require.Equal(t, before, blocks(t, env.Store))

	// Not a zip at all.
	junk := filepath.Join(t.TempDir(), "junk.zip")
	require.NoError(t, os.WriteFile(junk, []byte("not a zip"), 0o644))
	env.Source = junk
	_, err = toolchain.Import(ctx, "go", "", env)
	require.ErrorIs(t, err, ErrBadZip)

	env.Source = ""
	env.Options = map[string]string{"version": "1.0.1"}
	_, err = toolchain.Import(ctx, "go", "", env)
	require.ErrorIs(t, err, ErrNotPinned)
	require.ErrorContains(t, err, pin.GoVersion(), "names what is pinned")

	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOPROXY", srv.URL)
	env.Options = map[string]string{}
	_, err = toolchain.Import(ctx, "go", "", env)
	require.ErrorIs(t, err, ErrFetch)
	require.ErrorContains(t, err, "404")
	require.Equal(t, before, blocks(t, env.Store))
	tcs, err := env.Builder.Toolchains()
	require.NoError(t, err)
	require.Empty(t, tcs, "nothing recorded")
}
