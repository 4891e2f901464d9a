package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/storefs"
)

//go:embed forwarder/main.go
var forwarderSource []byte

// Errors.
var (
	ErrNotModule   = errors.New("not inside a Go module")
	ErrNoToolchain = errors.New("no go toolchain imported")
	ErrCgo         = errors.New("cgo is not supported (CGO_ENABLED=0 builds only)")
	ErrStep        = errors.New("unsupported tool invocation")
)

// Config of one build.
type Config struct {
	Store   *storefs.Store
	Builder *builder.Builder
	// Toolchain is the go toolchain's store root.
	Toolchain cid.Cid
	// Bootstrap is the busybox store root (the shell that starts each tool).
	Bootstrap cid.Cid
	// Dir is the directory the go command runs in (inside the module).
	Dir string
	// Args are the go build arguments after "build" (flags and packages); -trimpath and
	// -toolexec are added.
	Args []string
	// Env is added to the go command's environment (e.g. GOFLAGS); nil means none.
	Env []string
	// Progress, if set, receives a line after each step.
	Progress io.Writer
	// Log receives the go command's own output (errors); default os.Stderr.
	Log io.Writer
}

// Step is one tool invocation turned into a derivation.
type Step struct {
	Tool       string // compile, asm, link
	ImportPath string
	Derivation cid.Cid
	Output     cid.Cid
	Cached     bool
	Duration   time.Duration
}

// Stats of a build.
type Stats struct {
	Steps         []Step
	Built, Cached int
}

// Run builds and returns what each step did.
func Run(ctx context.Context, cfg Config) (*Stats, error) {
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	goroot, err := cfg.Builder.InputPath(ctx, cfg.Toolchain)
	if err != nil {
		return nil, fmt.Errorf("go toolchain %s: %w", cfg.Toolchain, err)
	}
	goBin := filepath.Join(goroot, "bin", "go")
	work, err := cfg.Builder.TempDir("gobuild")
	if err != nil {
		return nil, err
	}
	defer builder.RemoveAll(work)
	env := append(os.Environ(), cfg.Env...)
	env = append(env, "GOTOOLCHAIN=local", "GOCACHE="+filepath.Join(work, "gocache"), "GOROOT=", "GOENV=off",
		"GOTELEMETRY=off", "TMPDIR="+work)
	for _, kv := range env {
		if kv == "CGO_ENABLED=1" {
			return nil, fmt.Errorf("%w: unset CGO_ENABLED=1", ErrCgo)
		}
	}
	env = append(env, "CGO_ENABLED=0")
	gomod, err := command(ctx, cfg.Dir, env, goBin, "env", "GOMOD")
	if err != nil {
		return nil, err
	}
	if gomod = strings.TrimSpace(gomod); gomod == "" || gomod == os.DevNull {
		return nil, fmt.Errorf("%w: %s (no go.mod here or above)", ErrNotModule, cfg.Dir)
	}
	fwd, err := forwarder(ctx, cfg.Builder, goBin, env)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(work, "toolexec.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	s := &server{cfg: cfg, goroot: goroot, files: map[fileKey]cid.Cid{}, stats: &Stats{}}
	var wg sync.WaitGroup
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(ctx, conn)
			}()
		}
	}()
	args := append([]string{"build", "-trimpath", "-toolexec", fwd}, cfg.Args...)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = cfg.Dir
	cmd.Env = append(env, "BUILDCHAIN_GOBUILD_SOCK="+sock)
	cmd.Stdout, cmd.Stderr = cfg.Log, cfg.Log
	runErr := cmd.Run()
	ln.Close()
	wg.Wait()
	sort.Slice(s.stats.Steps, func(i, j int) bool {
		return s.stats.Steps[i].Derivation.String() < s.stats.Steps[j].Derivation.String()
	})
	if runErr != nil {
		return s.stats, fmt.Errorf("go build: %w", runErr)
	}
	return s.stats, nil
}

func command(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// forwarder compiles forwarder/main.go with the toolchain once (per source and toolchain) into
// the builder's state dir and returns its path.
func forwarder(ctx context.Context, b *builder.Builder, goBin string, env []string) (string, error) {
	h := sha256.Sum256(append(forwarderSource, goBin...))
	dir := filepath.Join(b.StateDir(), "gobuild")
	bin := filepath.Join(dir, "toolexec-"+hex.EncodeToString(h[:8]))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, "forwarder-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "main.go"), forwarderSource, 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(tmp, "toolexec")
	// Its own GOCACHE: the build's must stay empty, or the std packages the forwarder shares
	// with the program would be taken from there instead of going through the steps.
	fenv := append(env, "GOFLAGS=", "GO111MODULE=off", "GOCACHE="+filepath.Join(tmp, "gocache"))
	if _, err := command(ctx, tmp, fenv, goBin, "build", "-trimpath", "-o", out, "main.go"); err != nil {
		return "", fmt.Errorf("build the toolexec forwarder: %w", err)
	}
	if err := os.Rename(out, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// request and response are the forwarder's protocol (forwarder/main.go has its own copy: it
// is a separate std-only program).
type request struct {
	Args []string `json:"args"`
	Dir  string   `json:"dir"`
	Env  []string `json:"env"`
}

type response struct {
	Code   int    `json:"code"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

type fileKey struct {
	path        string
	size, mtime int64
	ino         uint64
}

type server struct {
	cfg    Config
	goroot string
	mu     sync.Mutex
	files  map[fileKey]cid.Cid // archives added as store paths, by file version
	stats  *Stats
	done   atomic.Int64
}

func (s *server) serve(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	var req request
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		return
	}
	resp := s.handle(ctx, req)
	_ = json.NewEncoder(conn).Encode(resp)
}

func (s *server) handle(ctx context.Context, req request) response {
	start := time.Now()
	st, log, err := s.step(ctx, req)
	if err != nil {
		msg := err.Error()
		if log != "" {
			msg = log
		}
		return response{Code: 1, Stderr: msg + "\n"}
	}
	st.Duration = time.Since(start)
	s.mu.Lock()
	s.stats.Steps = append(s.stats.Steps, *st)
	if st.Cached {
		s.stats.Cached++
	} else {
		s.stats.Built++
	}
	n, built, cached := len(s.stats.Steps), s.stats.Built, s.stats.Cached
	s.mu.Unlock()
	if s.cfg.Progress != nil {
		fmt.Fprintf(s.cfg.Progress, "\rsteps: %d done (%d cached, %d built)  %-40.40s", n, cached, built, st.Tool+" "+st.ImportPath)
	}
	return response{}
}
