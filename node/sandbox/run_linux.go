package sandbox

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func sleepBrief() { time.Sleep(10 * time.Millisecond) }

var rootOnce struct {
	sync.Once
	dir string
	err error
}

// rootMountpoint is the directory every init mounts its fresh tmpfs root on. Each init does so
// in its own mount namespace, so all builds share one empty host directory and none has to
// create or remove one.
func rootMountpoint() (string, error) {
	rootOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("buildchain-sandbox-root-%d", os.Getuid()))
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			rootOnce.err = fmt.Errorf("sandbox root mount point: %w", err)
			return
		}
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
			rootOnce.err = fmt.Errorf("sandbox root mount point %s must be a 0755 directory", dir)
			return
		}
		rootOnce.dir = dir
	})
	return rootOnce.dir, rootOnce.err
}

// FixedEnv returns the variables every build gets on top of its derivation's env (docs/ARCHITECTURE.md §Derivations and builds).
// The derivation may not override them.
func FixedEnv() map[string]string {
	return map[string]string{
		"HOME":              HomeDir,
		"TZ":                "UTC",
		"SOURCE_DATE_EPOCH": "1",
		"TMPDIR":            BuildDir,
		"NIX_BUILD_TOP":     BuildDir,
	}
}

// buildEnv merges derivation env and the fixed variables into a sorted list.
func buildEnv(env map[string]string, exact bool) []string {
	merged := map[string]string{"PATH": "/path-not-set"}
	if exact {
		merged = map[string]string{}
	}
	for k, v := range env {
		merged[k] = v
	}
	for k, v := range FixedEnv() {
		if !exact {
			merged[k] = v
		}
	}
	out := make([]string, 0, len(merged))
	for k, v := range merged {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (c *Config) validate() error {
	if !path.IsAbs(c.Builder) {
		return fmt.Errorf("%w: builder %q is not an absolute path", ErrSetup, c.Builder)
	}
	for _, m := range c.Mounts {
		if !path.IsAbs(m.Target) || path.Clean(m.Target) != m.Target || m.Target == "/" {
			return fmt.Errorf("%w: bad mount target %q", ErrSetup, m.Target)
		}
		for _, reserved := range []string{"/proc", "/dev", "/etc", BuildDir, "/tmp"} {
			if m.Target == reserved || strings.HasPrefix(m.Target, reserved+"/") {
				return fmt.Errorf("%w: mount target %q is reserved", ErrSetup, m.Target)
			}
		}
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("%w: bad environment variable name %q", ErrSetup, k)
		}
	}
	return nil
}

// Run executes cfg.Builder in a fresh sandbox and waits for it. A non-nil error is a
// *BuildError (use errors.Is with the Err* sentinels) or a host-side setup error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hostUID, hostGID := cfg.HostUID, cfg.HostGID
	if hostUID == 0 {
		hostUID = DefaultHostUID
	}
	if hostGID == 0 {
		hostGID = DefaultHostGID
	}

	root, err := rootMountpoint()
	if err != nil {
		return nil, err
	}
	mounts := append([]Mount(nil), cfg.Mounts...)
	// The builder (host uid hostUID) owns exactly what it may write.
	for _, m := range mounts {
		if m.Writable {
			if err := os.Chown(m.Source, hostUID, hostGID); err != nil {
				return nil, fmt.Errorf("chown writable mount %s: %w", m.Source, err)
			}
		}
	}
	if cfg.BuildHostDir != "" {
		if err := os.Chown(cfg.BuildHostDir, hostUID, hostGID); err != nil {
			return nil, fmt.Errorf("chown build dir: %w", err)
		}
		mounts = append(mounts, Mount{Source: cfg.BuildHostDir, Target: BuildDir, Writable: true})
	}
	// Each writable mount is an overlay that needs an empty work directory next to its source
	// (layers_linux.go); a stale one from a crashed run is replaced.
	for _, m := range mounts {
		if m.Writable {
			w := WorkDir(m.Source)
			if err := os.RemoveAll(w); err != nil {
				return nil, fmt.Errorf("%w: overlay work dir: %v", ErrSetup, err)
			}
			if err := os.Mkdir(w, 0o700); err != nil {
				return nil, fmt.Errorf("%w: overlay work dir: %v", ErrSetup, err)
			}
			defer os.RemoveAll(w)
		}
	}

	ic := initConfig{
		Root:    root,
		Builder: cfg.Builder,
		Argv:    append([]string{cfg.Builder}, cfg.Args...),
		Env:     buildEnv(cfg.Env, cfg.ExactEnv),
		Mounts:  mounts,
		// Without a host build dir, /build is a tmpfs of the sandbox: nothing on the host to
		// create or delete (directory operations on a disk cost milliseconds).
		BuildTmpfs: cfg.BuildHostDir == "",
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	var st *started
	if cfg.HostNetwork {
		st, err = takeHostNetInit(hostUID, hostGID)
	} else {
		st, err = takeInit(hostUID, hostGID)
	}
	if err != nil {
		return nil, err
	}
	start := time.Now()
	st.out.set(log)
	cmd, cfgW, errR := st.cmd, st.cfgW, st.errR
	defer cfgW.Close()
	defer errR.Close()
	kill := func() { _ = cmd.Process.Kill() } // SIGKILL to pid 1 of the namespace kills all of it

	// The config goes first so the init sets up the sandbox while we write the limits into
	// its cgroups (which it joined when it started); it execs the builder only after the go
	// byte (see fdConfig).
	raw, err := json.Marshal(ic)
	if err != nil {
		kill()
		_ = cmd.Wait()
		return nil, err
	}
	sent := make(chan error, 1)
	go func() {
		msg := binary.BigEndian.AppendUint32(nil, uint32(len(raw)))
		_, err := cfgW.Write(append(msg, raw...))
		sent <- err
	}()
	cg := st.cg
	defer cg.remove()
	cgErr := cg.apply(cfg.Limits)
	if err := <-sent; err != nil && cgErr == nil {
		cgErr = fmt.Errorf("send config: %w", err)
	}
	if cgErr != nil {
		kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("%w: %v", ErrSetup, cgErr)
	}
	_, _ = cfgW.Write([]byte{goSignal}) // a failed write shows up as the init's setup error
	cfgW.Close()

	var timedOut, canceled atomic.Bool
	done := make(chan struct{})
	go func() {
		var timeout <-chan time.Time
		if cfg.Timeout > 0 {
			t := time.NewTimer(cfg.Timeout - time.Since(start))
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-done:
		case <-timeout:
			timedOut.Store(true)
			kill()
		case <-ctx.Done():
			canceled.Store(true)
			kill()
		}
	}()
	setupMsg, _ := io.ReadAll(errR)
	waitErr := cmd.Wait()
	close(done)
	elapsed := time.Since(start)

	if len(setupMsg) > 0 {
		return nil, &BuildError{Reason: ErrSetup, Detail: string(setupMsg), ExitCode: cmd.ProcessState.ExitCode()}
	}
	if ooms := cg.oomKills(); ooms > 0 {
		return nil, &BuildError{Reason: ErrMemoryLimit, Detail: fmt.Sprintf("limit %d bytes, %d process(es) killed by the kernel", cfg.Limits.MemoryBytes, ooms), ExitCode: -1}
	}
	if refused := cg.pidsRefused(); refused > 0 {
		return nil, &BuildError{Reason: ErrPidsLimit, Detail: fmt.Sprintf("limit %d tasks, %d fork(s) refused", cfg.Limits.Pids, refused), ExitCode: cmd.ProcessState.ExitCode()}
	}
	if timedOut.Load() {
		return nil, &BuildError{Reason: ErrTimeout, Detail: fmt.Sprintf("killed after %s", cfg.Timeout), ExitCode: -1, Signal: "killed"}
	}
	if canceled.Load() {
		return nil, &BuildError{Reason: ErrCanceled, Detail: ctx.Err().Error(), ExitCode: -1}
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			be := &BuildError{Reason: ErrExit, ExitCode: ee.ExitCode()}
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				be.Signal = ws.Signal().String()
				be.Detail = fmt.Sprintf("%s killed by signal %s", cfg.Builder, be.Signal)
			} else {
				be.Detail = fmt.Sprintf("%s exited with code %d", cfg.Builder, be.ExitCode)
			}
			return nil, be
		}
		return nil, fmt.Errorf("wait for build: %w", waitErr)
	}
	return &Result{Duration: elapsed}, nil
}
