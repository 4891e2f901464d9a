package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// TestMakeRunDoesItsOwnSetUp: on a fresh machine `make run` is the first command, so it must
// install the Debian packages itself (scripts/deps.sh) before it builds and starts anything.
// make -n prints the recipes run would execute, in order, without running them.
func TestMakeRunDoesItsOwnSetUp(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("needs make")
	}
	cmd := exec.Command("make", "-n", "run")
	cmd.Dir = localnet.RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	s := string(out)
	deps, build := strings.Index(s, "scripts/deps.sh"), strings.Index(s, " build ")
	if deps < 0 || build < 0 || deps > build {
		t.Fatalf("make run must run scripts/deps.sh before building (deps at %d, build at %d):\n%s", deps, build, s)
	}
}

// TestDepsAsNonRootPrintsTheCommand: a user who is not root and lacks a package gets the
// exact command to run, and nothing is installed. dpkg-query and apt-get are replaced on
// PATH so every package looks missing; apt-get leaves a mark if it is ever called.
func TestDepsAsNonRootPrintsTheCommand(t *testing.T) {
	shims, err := os.MkdirTemp("", "deps-shims-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shims) })
	// Readable by the unprivileged user the script runs as.
	if err := os.Chmod(shims, 0o755); err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(shims, "apt-get-called")
	for name, body := range map[string]string{
		"dpkg-query": "exit 1\n",
		"apt-get":    "echo called >" + mark + "\nexit 0\n",
	} {
		if err := os.WriteFile(filepath.Join(shims, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(localnet.RepoRoot(), "scripts", "deps.sh")
	cmd := exec.Command(script)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "PATH="+shims+":"+os.Getenv("PATH"))
	if os.Geteuid() == 0 {
		// As nobody: the case under test is a user who is not root.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("deps.sh as non-root with missing packages: want a non-zero exit, got %v\n%s", err, stderr.String())
	}
	want := "  sudo " + script + "\n"
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "busybox-static") {
		t.Fatalf("deps.sh did not print the command to run (%q) and the missing packages:\n%s", want, stderr.String())
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("deps.sh called apt-get as a non-root user")
	}
}
