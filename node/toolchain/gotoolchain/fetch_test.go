package gotoolchain

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

const (
	greetGoMod = "module example.com/greet\n\ngo 1.22\n"
	greetSaid  = "hello from a fetched module"
)

// goProxy serves one module, example.com/greet v1.0.0, by the Go module proxy protocol
// (GET {module}/@v/list, .info, .mod, .zip) on 127.0.0.1, counting requests. It returns the
// proxy URL and the go.sum lines of the module.
func goProxy(t *testing.T, hits *atomic.Int64) (string, string) {
	t.Helper()
	mv := module.Version{Path: "example.com/greet", Version: "v1.0.0"}
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte(greetGoMod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "greet.go"),
		[]byte("package greet\n\n// Hello is what the program prints.\nfunc Hello() string { return \""+greetSaid+"\" }\n"), 0o644))
	root := t.TempDir()
	dir := filepath.Join(root, "example.com", "greet", "@v")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	zf, err := os.Create(filepath.Join(dir, "v1.0.0.zip"))
	require.NoError(t, err)
	require.NoError(t, modzip.CreateFromDir(zf, mv, src))
	require.NoError(t, zf.Close())
	for name, data := range map[string]string{
		"list":        "v1.0.0\n",
		"v1.0.0.info": `{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`,
		"v1.0.0.mod":  greetGoMod,
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	zipSum, err := dirhash.HashZip(filepath.Join(dir, "v1.0.0.zip"), dirhash.Hash1)
	require.NoError(t, err)
	modSum, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(greetGoMod)), nil
	})
	require.NoError(t, err)
	files := http.FileServer(http.Dir(root))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, "example.com/greet v1.0.0 " + zipSum + "\nexample.com/greet v1.0.0/go.mod " + modSum + "\n"
}

// TestGoModulesFixedOutput: examples/fetch/go-modules.json vendors the dependencies of a Go
// module through a GOPROXY (a module proxy on 127.0.0.1 started here) in a fixed-output
// derivation. Its declared CID is computed independently: the same `go mod vendor` run on the
// host with the same toolchain and proxy. An ordinary derivation (no network, GOPROXY=off,
// -mod=vendor) then finds the dependency in the vendored tree, its input; the same vendoring
// without outputHash has no network and fails.
func TestGoModulesFixedOutput(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds run in user/mount/pid namespaces")
	}
	cachedZip(t)
	ctx := context.Background()
	home := t.TempDir()
	require.NoError(t, os.Chmod(home, 0o755))
	s, err := storefs.Open(filepath.Join(home, "ipfs"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	var log bytes.Buffer
	b, err := builder.New(s, builder.Config{StateDir: filepath.Join(home, "builds"), Log: &log, Timeout: 15 * time.Minute})
	require.NoError(t, err)
	start := time.Now()
	tc, err := toolchain.Import(ctx, "go", "tester", &toolchain.Env{Store: s, Builder: b})
	require.NoError(t, err)
	t.Logf("go toolchain imported in %s", time.Since(start).Round(time.Millisecond))
	_, err = b.ImportBusybox(ctx, "", "tester")
	require.NoError(t, err)

	var hits atomic.Int64
	proxy, goSum := goProxy(t, &hits)
	src := t.TempDir()
	for name, data := range map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.22\n\nrequire example.com/greet v1.0.0\n",
		"go.sum":  goSum,
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(src, name), []byte(data), 0o644))
	}
	srcCID, err := s.AddPath(ctx, src, storefs.AddOptions{})
	require.NoError(t, err)

	// The expected output: the same vendoring on the host, hashed with a build output's modes.
	hostGo := filepath.Join(t.TempDir(), "go")
	require.NoError(t, s.Export(ctx, tc, hostGo))
	start = time.Now()
	want := hostVendor(t, hostGo, src, proxy)
	t.Logf("host go mod vendor: %s in %s", want, time.Since(start).Round(time.Millisecond))
	require.NotZero(t, hits.Load())

	tmpl, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "fetch", "go-modules.json"))
	require.NoError(t, err)
	vars, err := b.TemplateVars()
	require.NoError(t, err)
	vars["name"], vars["src"], vars["goproxy"], vars["hash"] = "hello", srcCID.String(), proxy, want.String()
	filled, err := builder.Template(tmpl, vars)
	require.NoError(t, err)
	fixed, err := derivation.Parse(filled)
	require.NoError(t, err)
	require.True(t, fixed.Fixed())
	fixedDrv, err := b.AddDerivation(fixed)
	require.NoError(t, err)
	before := hits.Load()
	r, err := b.Build(ctx, fixedDrv, builder.Options{})
	require.NoError(t, err, log.String())
	require.Equal(t, want, r.Output, "the sandbox vendored what the host vendored")
	t.Logf("fixed-output go mod vendor in the sandbox: %s", r.BuildTime.Round(time.Millisecond))
	require.Greater(t, hits.Load(), before, "the fixed-output build fetched through the proxy")
	var modules strings.Builder
	require.NoError(t, s.Cat(ctx, r.Output, "vendor/modules.txt", &modules))
	require.Contains(t, modules.String(), "# example.com/greet v1.0.0\n")

	// An ordinary derivation (no network, GOPROXY=off, -mod=vendor) resolves the program's
	// dependencies from the fetched tree, its input. (go list loads them without compiling:
	// a cold go build of the standard library would cost minutes on a busy machine, and
	// building Go programs is shown by TestGoCLIValid.)
	env := BuildEnv(tc)
	env["PATH"] += ":/ipfs/store/" + vars["bootstrap"] + "/bin"
	env["src"] = "{{drv:" + fixedDrv.String() + ":out}}"
	listJSON, err := json.Marshal(map[string]any{
		"name": "hello-deps", "system": vars["system"], "builder": "/ipfs/store/" + vars["bootstrap"] + "/bin/sh",
		"args":    []string{"-c", "set -e\ncd $src\nmkdir $out\ngo list -deps -f '{{if not .Standard}}{{.ImportPath}} {{.Dir}}{{end}}' . > $out/deps"},
		"env":     env,
		"inputs":  []any{vars["bootstrap"], tc.String(), map[string]string{"drv": fixedDrv.String(), "output": "out"}},
		"outputs": []string{"out"},
	})
	require.NoError(t, err)
	list, err := derivation.Parse(listJSON)
	require.NoError(t, err)
	listDrv, err := b.AddDerivation(list)
	require.NoError(t, err)
	before = hits.Load()
	r, err = b.Build(ctx, listDrv, builder.Options{})
	require.NoError(t, err, log.String())
	require.Equal(t, before, hits.Load(), "the ordinary build used no network")
	var deps strings.Builder
	require.NoError(t, s.Cat(ctx, r.Output, "deps", &deps))
	require.Equal(t, "example.com/greet /ipfs/store/"+want.String()+"/vendor/example.com/greet\nexample.com/hello /ipfs/store/"+want.String()+"\n", deps.String())

	// Without outputHash the same vendoring gets no network.
	var unfixed map[string]any
	require.NoError(t, json.Unmarshal(filled, &unfixed))
	delete(unfixed, "outputHash")
	unfixed["name"] = "hello-unfixed"
	unfixedJSON, err := json.Marshal(unfixed)
	require.NoError(t, err)
	d, err := derivation.Parse(unfixedJSON)
	require.NoError(t, err)
	require.False(t, d.Fixed())
	unfixedDrv, err := b.AddDerivation(d)
	require.NoError(t, err)
	_, err = b.Build(ctx, unfixedDrv, builder.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "exited with code")
	require.Equal(t, before, hits.Load(), "an ordinary derivation reached the module proxy")
}

// hostVendor runs `go mod vendor` on a copy of src on the host, with the toolchain at goroot
// and the environment of examples/fetch/go-modules.json, and returns the CID the copy has as a
// build output (canonical modes).
func hostVendor(t *testing.T, goroot, src, proxy string) cid.Cid {
	t.Helper()
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	require.NoError(t, os.CopyFS(out, os.DirFS(src)))
	cmd := exec.Command(filepath.Join(goroot, "bin", "go"), "mod", "vendor")
	cmd.Dir = out
	cmd.Env = []string{"PATH=" + filepath.Join(goroot, "bin"), "HOME=" + tmp, "GOPROXY=" + proxy, "GOSUMDB=off",
		"GOTOOLCHAIN=local", "GOENV=off", "GOTELEMETRY=off", "CGO_ENABLED=0",
		// -modcacherw: the module cache in tmp can be removed afterwards.
		"GOFLAGS=-mod=mod -modcacherw", "GOCACHE=" + filepath.Join(tmp, "gocache"), "GOPATH=" + filepath.Join(tmp, "gopath")}
	said, err := cmd.CombinedOutput()
	require.NoError(t, err, string(said))
	require.NoError(t, builder.Canonicalise(out))
	s, err := storefs.Open(filepath.Join(tmp, "ipfs"))
	require.NoError(t, err)
	defer s.Close()
	c, err := s.AddPath(context.Background(), out, storefs.AddOptions{PreserveMode: true, OnlyHash: true})
	require.NoError(t, err)
	return c
}
