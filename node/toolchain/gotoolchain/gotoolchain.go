package gotoolchain

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/toolchain"
)

// Module is the Go module proxy's path of Go toolchains.
const Module = "golang.org/toolchain"

// Errors of a refused import (the store is left unchanged).
var (
	ErrChecksum  = errors.New("go toolchain zip does not match its pinned checksum")
	ErrBadZip    = errors.New("not a valid go toolchain module zip")
	ErrNotStatic = errors.New("go toolchain binary is not static")
	ErrNotPinned = errors.New("go toolchain version not pinned in go.lock")
	ErrFetch     = errors.New("cannot fetch the go toolchain zip")
)

//go:embed go.lock
var lockFile string

// Pin is one line of go.lock.
type Pin struct {
	Version string // module version, e.g. v0.0.1-go1.26.8.linux-amd64
	Sum     string // h1: dirhash of the zip
}

// GoVersion is the Go release of the pin ("1.26.8").
func (p Pin) GoVersion() string {
	v := strings.TrimPrefix(p.Version, "v0.0.1-go")
	return v[:strings.LastIndex(v, ".")]
}

// Pins lists go.lock in file order.
func Pins() []Pin {
	var out []Pin
	sc := bufio.NewScanner(strings.NewReader(lockFile))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == Module {
			out = append(out, Pin{Version: f[1], Sum: f[2]})
		}
	}
	return out
}

// Lookup finds the pin of a Go release ("" = the default) for this machine's GOOS and GOARCH.
func Lookup(goVersion string) (Pin, error) {
	suffix := "." + runtime.GOOS + "-" + runtime.GOARCH
	var known []string
	for _, p := range Pins() {
		if !strings.HasSuffix(p.Version, suffix) {
			continue
		}
		if goVersion == "" || p.GoVersion() == strings.TrimPrefix(goVersion, "go") {
			return p, nil
		}
		known = append(known, p.GoVersion())
	}
	return Pin{}, fmt.Errorf("%w: go%s for %s (pinned: %s); add its line from `go mod download -json %s@v0.0.1-go%s%s`",
		ErrNotPinned, strings.TrimPrefix(goVersion, "go"), strings.TrimPrefix(suffix, "."), strings.Join(known, ", "),
		Module, strings.TrimPrefix(goVersion, "go"), suffix)
}

func init() {
	toolchain.Register(toolchain.Toolchain{
		Name:  "go",
		Short: "the Go toolchain module " + Module + " from the Go module proxy (checked against go.lock; static binaries only)",
		Options: map[string]string{
			"version": "Go release to import, e.g. 1.26.8 (default: the first pinned in go.lock)",
			"trim":    "drop testdata, *_test.go, test/, api/, doc/, misc/ (default true)",
		},
		Import: importEnv,
	})
}

func importEnv(ctx context.Context, env *toolchain.Env) (cid.Cid, error) {
	pin, err := Lookup(env.Options["version"])
	if err != nil {
		return cid.Undef, err
	}
	trim := true
	switch env.Options["trim"] {
	case "", "true":
	case "false":
		trim = false
	default:
		return cid.Undef, fmt.Errorf("option trim=%q: want true or false", env.Options["trim"])
	}
	return Import(ctx, env, pin, Options{Zip: env.Source, Trim: trim})
}

// Options of Import.
type Options struct {
	// Zip is the module zip to import; "" means: the module cache, else GOPROXY.
	Zip string
	// Trim drops what builds never read (see the package doc).
	Trim bool
}

// Import checks and imports the toolchain zip of pin (see the package doc) and returns its root.
func Import(ctx context.Context, env *toolchain.Env, pin Pin, opts Options) (cid.Cid, error) {
	tmp, err := env.TempDir("go-toolchain")
	if err != nil {
		return cid.Undef, err
	}
	defer builder.RemoveAll(tmp)
	zipPath := opts.Zip
	if zipPath == "" {
		if zipPath, err = locate(ctx, env.Log, pin, tmp); err != nil {
			return cid.Undef, err
		}
	}
	start := time.Now()
	mv := module.Version{Path: Module, Version: pin.Version}
	if _, err := modzip.CheckZip(mv, zipPath); err != nil {
		return cid.Undef, fmt.Errorf("%w: %s: %v", ErrBadZip, zipPath, err)
	}
	sum, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %s: %v", ErrBadZip, zipPath, err)
	}
	if sum != pin.Sum {
		return cid.Undef, fmt.Errorf("%w: %s is %s@%s with checksum %s, go.lock pins %s", ErrChecksum, zipPath, Module, pin.Version, sum, pin.Sum)
	}
	root := filepath.Join(tmp, "go")
	n, err := extract(zipPath, mv, root, opts.Trim)
	if err != nil {
		return cid.Undef, err
	}
	fmt.Fprintf(env.Log, "go toolchain %s: checksum %s ok, %d files extracted in %s; adding\n", pin.Version, sum, n, time.Since(start).Round(time.Millisecond))
	// Self-contained: no references to other store paths.
	return env.AddTree(ctx, root, nil)
}

// locate finds the zip in the module cache or downloads it from GOPROXY into dir.
func locate(ctx context.Context, log io.Writer, pin Pin, dir string) (string, error) {
	// The module path has no upper-case letters: its escaped form (module.EscapePath) is itself.
	rel := Module + "/@v/" + pin.Version + ".zip"
	if p := CachePath(pin); p != "" {
		if _, err := os.Stat(p); err == nil {
			fmt.Fprintf(log, "go toolchain %s: from the module cache %s\n", pin.Version, p)
			return p, nil
		}
	}
	proxies := os.Getenv("GOPROXY")
	if proxies == "" {
		proxies = "https://proxy.golang.org,direct"
	}
	var errs []string
	for _, p := range strings.FieldsFunc(proxies, func(r rune) bool { return r == ',' || r == '|' }) {
		if p == "off" {
			errs = append(errs, "GOPROXY=off")
			break
		}
		if p == "direct" || p == "noproxy" {
			continue // a toolchain module has no VCS origin to fetch directly
		}
		u := strings.TrimSuffix(p, "/") + "/" + rel
		dst := filepath.Join(dir, "download.zip")
		if err := download(ctx, u, dst); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintf(log, "go toolchain %s: downloaded %s\n", pin.Version, redact(u))
		return dst, nil
	}
	return "", fmt.Errorf("%w %s@%s: not in the module cache (`go mod download %s@%s` puts it there) and %s",
		ErrFetch, Module, pin.Version, Module, pin.Version, strings.Join(errs, "; "))
}

// CachePath is where `go mod download` keeps the zip of pin in the module cache.
func CachePath(pin Pin) string {
	mc := modCache()
	if mc == "" {
		return ""
	}
	return filepath.Join(mc, "cache", "download", Module, "@v", pin.Version+".zip")
}

// modCache is $GOMODCACHE, else the first GOPATH entry's pkg/mod, else ~/go/pkg/mod (the go
// command's rule), without running a go command.
func modCache() string {
	if mc := os.Getenv("GOMODCACHE"); mc != "" {
		return mc
	}
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		return filepath.Join(gp[0], "pkg", "mod")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, "go", "pkg", "mod")
	}
	return ""
}

func download(ctx context.Context, u, dst string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %v", redact(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", redact(u), resp.Status)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("GET %s: %v", redact(u), err)
	}
	return f.Close()
}

// redact drops a password from a proxy URL before it is printed.
func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return u
}

// trimmed tells whether a path of the distribution (slash-separated, relative to its root) is
// one builds never read.
func trimmed(p string) bool {
	switch strings.SplitN(p, "/", 2)[0] {
	case "test", "api", "doc", "misc":
		return true
	}
	for _, seg := range strings.Split(path.Dir(p), "/") {
		if seg == "testdata" {
			return true
		}
	}
	return strings.HasSuffix(p, "_test.go")
}

// executable mirrors the go command's handling of a downloaded toolchain (cmd/go/internal/
// toolchain): bin/, pkg/tool/ and lib/**/go_*_*_exec get the exec bits the zip cannot carry.
func executable(p string) bool {
	if strings.HasPrefix(p, "bin/") || strings.HasPrefix(p, "pkg/tool/") {
		return true
	}
	ok, _ := path.Match("go_?*_?*_exec", path.Base(p))
	return strings.HasPrefix(p, "lib/") && ok
}

// extract writes the zip's files (already checked by CheckZip: one prefix, clean names, no
// duplicates) under root, trimmed, and refuses a dynamically linked executable.
func extract(zipPath string, mv module.Version, root string, trim bool) (int, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadZip, err)
	}
	defer zr.Close()
	prefix := mv.Path + "@" + mv.Version + "/"
	n := 0
	sawGo := false
	for _, zf := range zr.File {
		rel := strings.TrimPrefix(zf.Name, prefix)
		if zf.FileInfo().IsDir() || (trim && trimmed(rel)) {
			continue
		}
		dst := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return n, err
		}
		rc, err := zf.Open()
		if err != nil {
			return n, fmt.Errorf("%w: %s: %v", ErrBadZip, zf.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return n, fmt.Errorf("%w: %s: %v", ErrBadZip, zf.Name, err)
		}
		mode := os.FileMode(0o444)
		if executable(rel) {
			mode = 0o555
			if bytes.HasPrefix(data, []byte("\x7fELF")) {
				if err := builder.CheckStatic(data); err != nil {
					return n, fmt.Errorf("%w: %s: %v", ErrNotStatic, rel, err)
				}
			} else if strings.HasPrefix(rel, "bin/") {
				return n, fmt.Errorf("%w: %s is not an ELF executable", ErrBadZip, rel)
			}
			sawGo = sawGo || rel == "bin/go"
		}
		if err := os.WriteFile(dst, data, mode); err != nil {
			return n, err
		}
		n++
	}
	if !sawGo {
		return n, fmt.Errorf("%w: no bin/go in %s", ErrBadZip, zipPath)
	}
	return n, nil
}

// BuildEnv is the environment of a hermetic go build in the sandbox, with the toolchain at
// /ipfs/store/{tc}: no network, no toolchain switching, no user go.env, vendored modules only,
// paths trimmed from the binary, no cgo, caches under /build (the go command refuses to run
// without a GOCACHE).
func BuildEnv(tc cid.Cid) map[string]string {
	return map[string]string{
		"PATH":        "/ipfs/store/" + tc.String() + "/bin",
		"GOTOOLCHAIN": "local",
		"GOPROXY":     "off",
		"GOSUMDB":     "off",
		"GOENV":       "off",
		"GOTELEMETRY": "off",
		"GOFLAGS":     "-mod=vendor -trimpath -buildvcs=false",
		"CGO_ENABLED": "0",
		"GOCACHE":     "/build/gocache",
		"GOPATH":      "/build/gopath",
	}
}
