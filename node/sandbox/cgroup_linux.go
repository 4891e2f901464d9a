package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// cgroup is one build's set of cgroups: a single v2 directory when memory, pids and cpu are
// delegated there, else one directory per v1 hierarchy (memory, pids, cpu), each created below
// the cgroup this process already runs in, so the limits nest inside whatever the host imposes.
type cgroup struct {
	v2   string            // v2 directory, or ""
	v1   map[string]string // controller -> directory
	dirs []string          // everything to remove, deepest first
}

const cgroupRoot = "/sys/fs/cgroup"

// selfCgroups parses /proc/self/cgroup: controller (or "" for v2) -> path.
func selfCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, sc.Err()
}

// v2Dir returns the mount point of the v2 hierarchy if it has all controllers we need.
func v2Dir(need []string) string {
	self, err := selfCgroups()
	if err != nil {
		return ""
	}
	for _, mnt := range []string{cgroupRoot, filepath.Join(cgroupRoot, "unified")} {
		// Delegated means: enabled for the children of the cgroup we run in, so a cgroup we
		// create below it gets memory.max, pids.max and cpu.max.
		b, err := os.ReadFile(filepath.Join(mnt, self[""], "cgroup.subtree_control"))
		if err != nil {
			continue
		}
		have := map[string]bool{}
		for _, c := range strings.Fields(string(b)) {
			have[c] = true
		}
		ok := true
		for _, c := range need {
			ok = ok && have[c]
		}
		if ok {
			return mnt
		}
	}
	return ""
}

// LimitsAvailable says whether Run can enforce lim on this machine, and if not, why.
func LimitsAvailable(lim Limits) error {
	if v2Dir(controllers) != "" {
		return nil
	}
	for c, want := range map[string]bool{"memory": lim.MemoryBytes > 0, "pids": lim.Pids > 0, "cpu": lim.CPUMillis > 0} {
		if !want {
			continue
		}
		if _, err := os.Stat(filepath.Join(cgroupRoot, c, "cgroup.procs")); err != nil {
			return fmt.Errorf("cannot limit %s: no cgroup v2 with memory, pids and cpu delegated to this process's cgroup (cgroup.subtree_control) and no cgroup v1 %s hierarchy at %s", c, c, filepath.Join(cgroupRoot, c))
		}
	}
	return nil
}

var controllers = []string{"memory", "pids", "cpu"}

const cgroupPrefix = "buildchain-sandbox-"

// cgroupName names a build's cgroup after the process that owns it, so that cgroups left by a
// process that died (it could not remove them) can be told apart and swept.
func cgroupName(id string) string { return fmt.Sprintf("%s%d-%s", cgroupPrefix, os.Getpid(), id) }

var sweepOnce sync.Once

// sweep removes empty build cgroups under parent whose owner process is gone.
func sweep(parent string) {
	ents, _ := os.ReadDir(parent)
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), cgroupPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		_ = os.Remove(filepath.Join(parent, e.Name())) // fails (EBUSY) unless empty: fine
	}
}

// newCgroup creates the build's cgroup in every controller this machine offers (v2 when all
// three are delegated there, else each v1 hierarchy that is mounted), with no limits yet: an
// init joins it as soon as it starts (for a spare: long before its build), and apply sets the
// limits only when the build is known, so no cgroup migration is on a build's critical path.
func newCgroup(name string) (*cgroup, error) {
	cg := &cgroup{v1: map[string]string{}}
	self, err := selfCgroups()
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	sweepOnce.Do(func() {
		if mnt := v2Dir(controllers); mnt != "" {
			sweep(filepath.Join(mnt, self[""]))
			return
		}
		for _, c := range controllers {
			sweep(filepath.Join(cgroupRoot, c, self[c]))
		}
	})
	if mnt := v2Dir(controllers); mnt != "" {
		dir := filepath.Join(mnt, self[""], name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create cgroup v2 %s: %w", dir, err)
		}
		cg.v2, cg.dirs = dir, []string{dir}
		setWeight(dir, "cpu.weight", cpuWeightV2)
		return cg, nil
	}
	for _, c := range controllers {
		base := filepath.Join(cgroupRoot, c)
		if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
			continue // not offered here; apply refuses a limit that needs it
		}
		dir := filepath.Join(base, self[c], name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			cg.remove()
			return nil, fmt.Errorf("create cgroup v1 %s: %w", dir, err)
		}
		cg.v1[c] = dir
		cg.dirs = append(cg.dirs, dir)
		if c == "cpu" {
			setWeight(dir, "cpu.shares", cpuSharesV1)
		}
	}
	return cg, nil
}

// The CPU weight of a build's cgroup: a cgroup competes for the CPU as one entity against each
// task of its parent (v1 cpu.shares 1024 = one nice-0 task), so with the default weight a
// build, however many threads its compiler runs, got one task's share on a busy machine while
// the same tool outside the sandbox got one per thread (bench/gobuild measured a link 2-3x
// slower at load 15 on 2 cores). A build weighs as much as one busy thread per core, the most
// the same process tree can use outside a cgroup. Weight is not a limit: an idle machine
// gives a build all of the CPU either way, and Limits.CPUMillis still caps it.
var (
	cpuSharesV1 = strconv.Itoa(1024 * runtime.NumCPU())
	cpuWeightV2 = strconv.Itoa(min(100*runtime.NumCPU(), 10000))
)

// setWeight sets a build cgroup's CPU weight; a kernel without the file keeps its default.
func setWeight(dir, file, val string) {
	if _, err := os.Stat(filepath.Join(dir, file)); err == nil {
		_ = write(dir, file, val)
	}
}

// apply sets the limits; a limit on a controller that is not available is an error.
func (cg *cgroup) apply(lim Limits) error {
	if cg.v2 != "" {
		return cg.applyV2(lim)
	}
	for c, want := range map[string]bool{"memory": lim.MemoryBytes > 0, "pids": lim.Pids > 0, "cpu": lim.CPUMillis > 0} {
		if want && cg.v1[c] == "" {
			if err := LimitsAvailable(lim); err != nil {
				return err
			}
			return fmt.Errorf("cannot limit %s: this build could not join a %s cgroup (a real-time caller cannot join a v1 cpu cgroup)", c, c)
		}
	}
	return cg.applyV1(lim)
}

func write(dir, file, val string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0o644); err != nil {
		return fmt.Errorf("cgroup %s/%s=%s: %w", dir, file, val, err)
	}
	return nil
}

func (cg *cgroup) applyV2(lim Limits) error {
	if lim.MemoryBytes > 0 {
		if err := write(cg.v2, "memory.max", strconv.FormatInt(lim.MemoryBytes, 10)); err != nil {
			return err
		}
		_ = write(cg.v2, "memory.swap.max", "0") // absent without swap accounting
	}
	if lim.Pids > 0 {
		if err := write(cg.v2, "pids.max", strconv.FormatInt(lim.Pids, 10)); err != nil {
			return err
		}
	}
	if lim.CPUMillis > 0 {
		if err := write(cg.v2, "cpu.max", fmt.Sprintf("%d 100000", lim.CPUMillis*100)); err != nil {
			return err
		}
	}
	return nil
}

func (cg *cgroup) applyV1(lim Limits) error {
	if d := cg.v1["memory"]; d != "" && lim.MemoryBytes > 0 {
		if err := write(d, "memory.limit_in_bytes", strconv.FormatInt(lim.MemoryBytes, 10)); err != nil {
			return err
		}
		// memsw must be >= limit_in_bytes; equal means "no swap". Absent without swap accounting.
		if _, err := os.Stat(filepath.Join(d, "memory.memsw.limit_in_bytes")); err == nil {
			if err := write(d, "memory.memsw.limit_in_bytes", strconv.FormatInt(lim.MemoryBytes, 10)); err != nil {
				return err
			}
		}
	}
	if d := cg.v1["pids"]; d != "" && lim.Pids > 0 {
		if err := write(d, "pids.max", strconv.FormatInt(lim.Pids, 10)); err != nil {
			return err
		}
	}
	if d := cg.v1["cpu"]; d != "" && lim.CPUMillis > 0 {
		if err := write(d, "cpu.cfs_period_us", "100000"); err != nil {
			return err
		}
		if err := write(d, "cpu.cfs_quota_us", strconv.FormatInt(lim.CPUMillis*100, 10)); err != nil {
			return err
		}
	}
	return nil
}

// join moves pid into every cgroup of the build. A v1 cpu cgroup refuses a real-time task
// (EINVAL without an rt_runtime_us budget): then the build simply has no cpu cgroup, and a CPU
// limit asked for later is refused by apply with a clear error.
func (cg *cgroup) join(pid int) error {
	var dirs []string
	for _, d := range cg.dirs {
		if err := write(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			if d == cg.v1["cpu"] && errors.Is(err, syscall.EINVAL) {
				delete(cg.v1, "cpu")
				_ = os.Remove(d)
				continue
			}
			return err
		}
		dirs = append(dirs, d)
	}
	cg.dirs = dirs
	return nil
}

// counter reads "key value" from a flat-keyed cgroup file.
func counter(dir, file, key string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// oomKills counts processes the kernel killed for exceeding the memory limit.
func (cg *cgroup) oomKills() int64 {
	return cg.counter("memory", "memory.events", "memory.oom_control", "oom_kill")
}

// pidsRefused counts forks refused by pids.max.
func (cg *cgroup) pidsRefused() int64 {
	return cg.counter("pids", "pids.events", "pids.events", "max")
}

// counter reads key from file v2 of the unified cgroup, or from file v1 of controller's v1
// cgroup; 0 without either.
func (cg *cgroup) counter(controller, v2, v1, key string) int64 {
	if cg.v2 != "" {
		return counter(cg.v2, v2, key)
	}
	if d := cg.v1[controller]; d != "" {
		return counter(d, v1, key)
	}
	return 0
}

// remove deletes the cgroups. The pid namespace is dead by then, so they are empty; rmdir of
// a cgroup can still see EBUSY for a moment while the last task is reaped, hence the retries.
func (cg *cgroup) remove() error {
	var errs []error
	for _, d := range cg.dirs {
		var err error
		for i := 0; i < 100; i++ {
			if err = os.Remove(d); err == nil || os.IsNotExist(err) {
				err = nil
				break
			}
			sleepBrief()
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
