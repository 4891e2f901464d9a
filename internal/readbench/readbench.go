// Package readbench times file reads in a child process, for benchmarks of
// a filesystem served by the benchmark's own process (the FUSE view of
// node/storefs/fusefs): a reader in the same process shares its Go
// runtime, heap and GC with the server and skews the figure. The child is
// this executable run again; a program or test binary that uses Read calls
// RunChildIfAsked first thing in main or TestMain.
package readbench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv marks the child: its value is "1" or "drop" (drop the files'
// cached pages first).
const childEnv = "BUILDCHAIN_READBENCH_CHILD"

// Result is what the child measured.
type Result struct {
	Bytes   int64
	Elapsed time.Duration // the reads only, not the child's start
	CPU     time.Duration // the child's CPU time (user+system) for them
}

// Rate is bytes per second.
func (r Result) Rate() float64 { return float64(r.Bytes) / r.Elapsed.Seconds() }

// Options of a Read.
type Options struct {
	// DropCache drops the files' clean cached pages before the timed
	// reads (posix_fadvise DONTNEED): for a FUSE file, the next read goes
	// back to the server.
	DropCache bool
}

// Read opens, reads to the end (1 MiB reads) and closes every path in
// order in a fresh child process and returns the bytes read and the time
// the child took for them.
func Read(paths []string, o Options) (Result, error) {
	exe, err := os.Executable()
	if err != nil {
		return Result{}, err
	}
	mode := "1"
	if o.DropCache {
		mode = "drop"
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Stdin = strings.NewReader(strings.Join(paths, "\n"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, fmt.Errorf("readbench child: %w: %s", err, stderr.String())
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		return Result{}, fmt.Errorf("readbench child: %w (stdout %q)", err, out)
	}
	return r, nil
}

// RunChildIfAsked returns at once unless this process is a Read child;
// then it reads the paths on stdin, prints its Result and exits.
func RunChildIfAsked() {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return
	}
	var paths []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if p := sc.Text(); p != "" {
			paths = append(paths, p)
		}
	}
	r, err := readAll(paths, mode == "drop")
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(r)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func readAll(paths []string, drop bool) (Result, error) {
	if drop {
		for _, p := range paths {
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return Result{}, fmt.Errorf("open %s: %w", p, err)
			}
			err = unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
			unix.Close(fd)
			if err != nil {
				return Result{}, fmt.Errorf("drop cache of %s: %w", p, err)
			}
		}
	}
	buf := make([]byte, 1<<20)
	var r Result
	c0 := cpuTime()
	t0 := time.Now()
	for _, p := range paths {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return Result{}, fmt.Errorf("open %s: %w", p, err)
		}
		for {
			n, err := unix.Read(fd, buf)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				unix.Close(fd)
				return Result{}, fmt.Errorf("read %s: %w", p, err)
			}
			if n == 0 {
				break
			}
			r.Bytes += int64(n)
		}
		unix.Close(fd)
	}
	r.Elapsed = time.Since(t0)
	r.CPU = cpuTime() - c0
	return r, nil
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// WriteInChunks writes data to a new file p in writes of chunk bytes. ext4
// caches a file in folios of about the size it was written in: 4 KiB
// writes give the 4 KiB folios a FUSE file is cached in, 1 MiB writes
// large folios, so the two make the plain baselines of a warm read.
func WriteInChunks(p string, data []byte, chunk int) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	for i := 0; i < len(data); i += chunk {
		if _, err := f.Write(data[i:min(i+chunk, len(data))]); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
