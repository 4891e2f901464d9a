package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	Init()
	os.Exit(m.Run())
}

const toolsPath = "/ipfs/store/bafytools"

// requireSandbox skips when the machine cannot run sandboxes (not root, no busybox).
func requireSandbox(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sandbox maps host root into its user namespace and writes cgroups")
	}
	bb, err := exec_lookBusybox()
	if err != nil {
		t.Skip("needs a static busybox (Debian busybox-static): " + err.Error())
	}
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	data, err := os.ReadFile(bb)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "busybox"), data, 0o555))
	require.NoError(t, os.Symlink("busybox", filepath.Join(bin, "sh")))
	return dir
}

func exec_lookBusybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no /bin/busybox")
}

// sh runs a busybox shell script in a sandbox with the tools mounted and returns the log.
func sh(t *testing.T, tools, script string, mod func(*Config)) (string, error) {
	t.Helper()
	var log bytes.Buffer
	cfg := Config{
		Builder: toolsPath + "/bin/busybox",
		Args:    []string{"sh", "-c", "ORIG_PATH=$PATH; export PATH=" + toolsPath + "/bin; busybox --install -s /build/bin 2>/dev/null; " + script},
		Env:     map[string]string{},
		Mounts:  []Mount{{Source: tools, Target: toolsPath}},
		Log:     &log,
		Timeout: 60 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	_, err := Run(context.Background(), cfg)
	return log.String(), err
}

func TestEnvironmentAndLayout(t *testing.T) {
	tools := requireSandbox(t)
	out := t.TempDir()
	require.NoError(t, os.Chmod(out, 0o755))
	log, err := sh(t, tools, `
set -e
B=`+toolsPath+`/bin/busybox
$B env | $B sort
echo "uid=$($B id -u) gid=$($B id -g)"
echo "host=$($B hostname)"
echo "pwd=$($B pwd)"
$B ls /proc | $B grep -c '^[0-9]' | $B sed 's/^/procs=/'
$B ls /dev | $B tr '\n' ' '; echo
echo "origpath=$ORIG_PATH"
$B ip -o link show lo | $B grep -q ",UP" && echo loup=1
echo hi > $out/greeting
`, func(c *Config) {
		c.Env = map[string]string{"out": "/ipfs/store/bafyout", "FOO": "bar", "HOME": "/evil"}
		c.Mounts = append(c.Mounts, Mount{Source: out, Target: "/ipfs/store/bafyout", Writable: true})
	})
	require.NoError(t, err, log)
	for _, want := range []string{"FOO=bar", "HOME=/homeless-shelter", "TZ=UTC", "SOURCE_DATE_EPOCH=1",
		"origpath=/path-not-set", "loup=1", "out=/ipfs/store/bafyout", "uid=1000 gid=100", "host=localhost", "pwd=/build"} {
		require.Contains(t, log, want)
	}
	require.NotContains(t, log, "HOME=/evil")
	// Only the builder's own processes are visible.
	require.Regexp(t, `procs=[1-4]\n`, log)
	got, err := os.ReadFile(filepath.Join(out, "greeting"))
	require.NoError(t, err)
	require.Equal(t, "hi\n", string(got))
}

func TestEscapeNetwork(t *testing.T) {
	tools := requireSandbox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	log, err := sh(t, tools, fmt.Sprintf(`echo ping | nc -w 2 127.0.0.1 %d || { echo "connect failed"; exit 3; }`, port), nil)
	require.ErrorIs(t, err, ErrExit, log)
	require.Contains(t, log, "connect failed")
	select {
	case <-accepted:
		t.Fatal("the host listener accepted a connection from inside the sandbox")
	case <-time.After(100 * time.Millisecond):
	}
	// Loopback inside works (it is up), so builds can use local sockets.
	log, err = sh(t, tools, `echo local | nc -l -p 9999 & i=0; until sleep 0.5 | nc 127.0.0.1 9999 > /build/got; do i=$((i+1)); [ $i -gt 100 ] && exit 9; sleep 0.05; done; wait; cat /build/got`, nil)
	require.NoError(t, err, log)
	require.Contains(t, log, "local")
}

func TestEscapeHostFile(t *testing.T) {
	tools := requireSandbox(t)
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("TOPSECRET"), 0o644))
	log, err := sh(t, tools, `cat `+secret+` || exit 4; cat /etc/shadow; cat /root/.bashrc`, nil)
	require.ErrorIs(t, err, ErrExit, log)
	require.NotContains(t, log, "TOPSECRET")
	require.Contains(t, log, "No such file")
}

func TestEscapeOutsideClosure(t *testing.T) {
	tools := requireSandbox(t)
	// A sibling "store path" on the host that is not an input of this build.
	other := filepath.Join(filepath.Dir(tools), "bafyother")
	require.NoError(t, os.MkdirAll(other, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(other, "f"), []byte("x"), 0o644))
	log, err := sh(t, tools, `ls /ipfs/store; ls /ipfs/store/bafyother || exit 5`, nil)
	require.ErrorIs(t, err, ErrExit, log)
	var be *BuildError
	require.ErrorAs(t, err, &be)
	require.Equal(t, 5, be.ExitCode)
	require.Contains(t, log, "bafytools")
}

func TestEscapeWriteInput(t *testing.T) {
	tools := requireSandbox(t)
	log, err := sh(t, tools, `
echo x > `+toolsPath+`/bin/new && echo WROTE
rm `+toolsPath+`/bin/sh && echo REMOVED
mount -o remount,rw `+toolsPath+` && echo REMOUNTED
unshare -r -m sh -c "mount -o remount,rw,bind `+toolsPath+` && echo > `+toolsPath+`/bin/new && echo NESTED-REMOUNTED"
unshare -r -m sh -c "umount -l `+toolsPath+` && ls `+toolsPath+`/.. && echo NESTED-UMOUNTED"
touch /newfile && echo ROOTWRITE
exit 6`, nil)
	require.ErrorIs(t, err, ErrExit, log)
	for _, bad := range []string{"WROTE", "REMOVED", "REMOUNTED", "ROOTWRITE", "NESTED-REMOUNTED"} {
		require.NotContains(t, log, bad)
	}
	require.Contains(t, log, "Read-only file system")
	_, err = os.Lstat(filepath.Join(tools, "bin", "sh"))
	require.NoError(t, err, "input changed on the host")
	_, err = os.Stat(filepath.Join(tools, "bin", "new"))
	require.True(t, os.IsNotExist(err))
}

// The mount table shows no host path (layers_linux.go): not the sources of read-only,
// writable and file mounts nor the host build dir; what is written lands on the host, and
// directories list (an overlay whose empty layer was removed would list nothing).
func TestEscapeHostPaths(t *testing.T) {
	tools := requireSandbox(t)
	out, build := t.TempDir(), t.TempDir()
	require.NoError(t, os.Chmod(out, 0o755))
	file := filepath.Join(t.TempDir(), "afile")
	require.NoError(t, os.WriteFile(file, []byte("FILE-CONTENT\n"), 0o644))
	log, err := sh(t, tools, `
cat /proc/self/mountinfo /proc/self/mounts
cat /ipfs/store/f
mkdir -p /ipfs/store/bafyout/d && echo o > /ipfs/store/bafyout/d/o && echo b > /build/b
ls -a /build /ipfs/store /ipfs/store/bafyout /`, func(c *Config) {
		c.Mounts = append(c.Mounts, Mount{Source: out, Target: "/ipfs/store/bafyout", Writable: true},
			Mount{Source: file, Target: "/ipfs/store/f"})
		c.BuildHostDir = build
	})
	require.NoError(t, err, log)
	for _, leak := range []string{tools, out, build, filepath.Dir(file), os.TempDir() + "/", ".stage", ".sandbox-work."} {
		if !strings.Contains(leak, ".sandbox-work.") {
			require.NotContains(t, log, leak)
			continue
		}
		// Overlay options name the work directory relative to the staging area; it never shows
		// as a file.
		require.NotContains(t, strings.SplitN(log, "FILE-CONTENT", 2)[1], leak)
	}
	require.Contains(t, log, "FILE-CONTENT")
	require.Regexp(t, `/ipfs/store/bafyout:\n\.\n\.\.\nd\n`, log)
	require.Regexp(t, `/build:\n\.\n\.\.\nb\n`, log)
	got, err := os.ReadFile(filepath.Join(out, "d", "o"))
	require.NoError(t, err)
	require.Equal(t, "o\n", string(got))
	_, err = os.Stat(WorkDir(out))
	require.True(t, os.IsNotExist(err), "overlay work dir removed after the build")
}

func TestEscapeHostProcesses(t *testing.T) {
	tools := requireSandbox(t)
	self := os.Getpid()
	log, err := sh(t, tools, fmt.Sprintf(`ls /proc | grep '^[0-9]' ; test -e /proc/%d && echo SEEN; kill -0 %d && echo SIGNALED; exit 7`, self, self), nil)
	require.ErrorIs(t, err, ErrExit, log)
	require.NotContains(t, log, "SEEN")
	require.NotContains(t, log, "SIGNALED")
}

func requireLimits(t *testing.T, lim Limits) {
	t.Helper()
	if err := LimitsAvailable(lim); err != nil {
		t.Skip("needs cgroups: " + err.Error())
	}
}

func TestPidsLimit(t *testing.T) {
	tools := requireSandbox(t)
	requireLimits(t, Limits{Pids: 1})
	log, err := sh(t, tools, `i=0; while [ $i -lt 200 ]; do sleep 5 & i=$((i+1)); done; wait`, func(c *Config) {
		c.Limits.Pids = 32
	})
	require.ErrorIs(t, err, ErrPidsLimit, log)
	require.Contains(t, err.Error(), "limit 32 tasks")
}

func TestMemoryLimit(t *testing.T) {
	tools := requireSandbox(t)
	requireLimits(t, Limits{MemoryBytes: 1})
	log, err := sh(t, tools, `a=$(head -c 300000000 /dev/zero | tr '\000' x); echo ${#a}`, func(c *Config) {
		c.Limits.MemoryBytes = 64 << 20
	})
	require.ErrorIs(t, err, ErrMemoryLimit, log)
	require.Contains(t, err.Error(), "limit 67108864 bytes")
}

func TestTimeout(t *testing.T) {
	tools := requireSandbox(t)
	start := time.Now()
	log, err := sh(t, tools, `sleep 1000 & sleep 1000`, func(c *Config) { c.Timeout = 500 * time.Millisecond })
	require.ErrorIs(t, err, ErrTimeout, log)
	require.Less(t, time.Since(start), 20*time.Second)
}

func TestCPULimitAccepted(t *testing.T) {
	tools := requireSandbox(t)
	requireLimits(t, Limits{CPUMillis: 1})
	log, err := sh(t, tools, `echo ok`, func(c *Config) { c.Limits.CPUMillis = 500 })
	require.NoError(t, err, log)
}

func TestSetupErrors(t *testing.T) {
	tools := requireSandbox(t)
	_, err := sh(t, tools, `true`, func(c *Config) { c.Builder = "/ipfs/store/bafytools/bin/nope" })
	require.ErrorIs(t, err, ErrSetup)
	require.Contains(t, err.Error(), "exec builder")
	_, err = sh(t, tools, `true`, func(c *Config) { c.Builder = "relative" })
	require.ErrorIs(t, err, ErrSetup)
	_, err = sh(t, tools, `true`, func(c *Config) {
		c.Mounts = append(c.Mounts, Mount{Source: "/nonexistent-src", Target: "/x"})
	})
	require.ErrorIs(t, err, ErrSetup)
	require.Contains(t, err.Error(), "nonexistent-src")
}

func TestLogStreaming(t *testing.T) {
	tools := requireSandbox(t)
	pr, pw := io.Pipe()
	lines := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		n, _ := pr.Read(buf)
		lines <- string(buf[:n])
		io.Copy(io.Discard, pr)
	}()
	// The first line must arrive while the build is still running.
	var runErr error
	finished := make(chan struct{})
	go func() {
		_, runErr = sh(t, tools, `echo first; sleep 2; echo second >&2`, func(c *Config) { c.Log = pw })
		pw.Close()
		close(finished)
	}()
	select {
	case l := <-lines:
		require.True(t, strings.HasPrefix(l, "first"), l)
	case <-finished:
		t.Fatal("build finished before its first log line was streamed")
	}
	<-finished
	require.NoError(t, runErr)
}

// The limits are really in the kernel while the build runs: find the build's cgroups from the
// host and read them back.
func TestLimitsApplied(t *testing.T) {
	tools := requireSandbox(t)
	requireLimits(t, Limits{MemoryBytes: 1, Pids: 1, CPUMillis: 1})
	// A spare init has a cgroup of its own; without one, the build's are the only ones.
	SetSpare(false)
	defer SetSpare(true)
	self, err := selfCgroups()
	require.NoError(t, err)
	type found struct{ mem, pids, quota, weight, procs string }
	got := make(chan found, 1)
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			var f found
			read := func(base, file string) string {
				m, _ := filepath.Glob(filepath.Join(base, cgroupName("*"), file))
				if len(m) != 1 {
					return ""
				}
				b, _ := os.ReadFile(m[0])
				return strings.TrimSpace(string(b))
			}
			v1 := func(ctrl string) string { return filepath.Join(cgroupRoot, ctrl, self[ctrl]) }
			if v2 := v2Dir([]string{"memory", "pids", "cpu"}); v2 != "" {
				base := filepath.Join(v2, self[""])
				f.mem, f.pids, f.quota, f.procs = read(base, "memory.max"), read(base, "pids.max"), read(base, "cpu.max"), read(base, "cgroup.procs")
				f.quota = strings.TrimSuffix(f.quota, " 100000")
				f.weight = read(base, "cpu.weight")
			} else {
				f.mem, f.pids, f.quota, f.procs = read(v1("memory"), "memory.limit_in_bytes"), read(v1("pids"), "pids.max"), read(v1("cpu"), "cpu.cfs_quota_us"), read(v1("pids"), "cgroup.procs")
				f.weight = read(v1("cpu"), "cpu.shares")
			}
			// Limits are written after the init joined its cgroups, cpu last.
			if f.procs != "" && f.quota == "150000" {
				got <- f
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		got <- found{}
	}()
	log, err := sh(t, tools, `sleep 2`, func(c *Config) {
		c.Limits = Limits{MemoryBytes: 96 << 20, Pids: 77, CPUMillis: 1500}
	})
	require.NoError(t, err, log)
	f := <-got
	require.Equal(t, "100663296", f.mem)
	require.Equal(t, "77", f.pids)
	require.Equal(t, "150000", f.quota)
	// One busy thread's weight per core (cgroup_linux.go cpuSharesV1), not one task's.
	if v2Dir([]string{"memory", "pids", "cpu"}) != "" {
		require.Equal(t, strconv.Itoa(min(100*runtime.NumCPU(), 10000)), f.weight)
	} else {
		require.Equal(t, strconv.Itoa(1024*runtime.NumCPU()), f.weight)
	}
	require.NotEmpty(t, f.procs, "the build's processes are in its pids cgroup")
	// And the cgroups are gone afterwards.
	m, _ := filepath.Glob(filepath.Join(cgroupRoot, "pids", self["pids"], cgroupName("*")))
	require.Empty(t, m)
}

// Cgroups left by a process that died are swept; live owners' are not.
func TestSweepStaleCgroups(t *testing.T) {
	requireSandbox(t)
	self, err := selfCgroups()
	require.NoError(t, err)
	parent := filepath.Join(cgroupRoot, "pids", self["pids"])
	if _, err := os.Stat(filepath.Join(parent, "cgroup.procs")); err != nil {
		t.Skip("no v1 pids hierarchy here")
	}
	dead := filepath.Join(parent, fmt.Sprintf("%s%d-stale", cgroupPrefix, 1<<22-3)) // above pid_max: never alive
	mine := filepath.Join(parent, cgroupName("live"))
	require.NoError(t, os.Mkdir(dead, 0o755))
	require.NoError(t, os.Mkdir(mine, 0o755))
	defer os.Remove(mine)
	sweep(parent)
	_, err = os.Stat(dead)
	require.True(t, os.IsNotExist(err), "stale cgroup not swept")
	_, err = os.Stat(mine)
	require.NoError(t, err)
}

// A HostNetwork sandbox (fixed-output builds) reaches a server on the host's loopback; the
// rest of the sandbox (mounts, pid namespace, uid) is unchanged.
func TestHostNetwork(t *testing.T) {
	tools := requireSandbox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("from-host\n"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	log, err := sh(t, tools, fmt.Sprintf(`nc 127.0.0.1 %d </dev/null; echo "pid=$$ uid=$(id -u) host=$(hostname)"`, port),
		func(c *Config) { c.HostNetwork = true })
	require.NoError(t, err, log)
	require.Contains(t, log, "from-host")
	require.Contains(t, log, "pid=1 uid=1000 host=localhost")
	// It has the host's DNS configuration and CA bundle (FetchEtc); an ordinary build has neither.
	for _, name := range FetchEtc {
		want, err := os.ReadFile(filepath.Join("/etc", name))
		if err != nil {
			continue // not on this host: not copied either
		}
		got, err := sh(t, tools, "cat /etc/"+name, func(c *Config) { c.HostNetwork = true })
		require.NoError(t, err, got)
		require.Equal(t, string(want), got, "/etc/%s", name)
		log, err = sh(t, tools, "test ! -e /etc/"+name, nil)
		require.NoError(t, err, "an ordinary build has /etc/%s: %s", name, log)
	}
	// The next ordinary build still has no network (a host-network init is never a spare).
	log, err = sh(t, tools, fmt.Sprintf(`nc -w 2 127.0.0.1 %d </dev/null || { echo "connect failed"; exit 3; }`, port), nil)
	require.ErrorIs(t, err, ErrExit, log)
	require.Contains(t, log, "connect failed")
}
