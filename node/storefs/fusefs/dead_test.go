package fusefs

import (
	"bufio"
	"context"
	"fmt"
	"github.com/buildchain/buildchain/internal/readbench"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/buildchain/buildchain/node/storefs"
)

const deadChildEnv = "FUSEFS_DEAD_CHILD"

func TestMain(m *testing.M) {
	readbench.RunChildIfAsked() // benchmarks' reader processes
	if spec := os.Getenv(deadChildEnv); spec != "" {
		// Child: mount store (spec = "root|mnt"), report, wait to be killed.
		root, mnt, _ := strings.Cut(spec, "|")
		s, err := storefs.Open(root)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		if _, err := Mount(s, mnt, Options{}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Println("MOUNTED")
		select {}
	}
	os.Exit(m.Run())
}

// TestMountOverDeadMount: the serving process is killed with SIGKILL, which
// leaves a dead mount ("transport endpoint is not connected"); mounting
// again at the same place must work.
func TestMountOverDeadMount(t *testing.T) {
	needFUSE(t)
	root := t.TempDir()
	s, err := storefs.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.AddReader(context.Background(), strings.NewReader("still here\n"), 0, storefs.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(mnt, 0o755)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), deadChildEnv+"="+root+"|"+mnt)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Whatever happens, leave no dead mount behind for TempDir's cleanup.
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "MOUNTED" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q", line)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(mnt, c.String())); err == nil {
		t.Fatal("mount still served after its process was killed")
	}
	srv, err := Mount(s, mnt, Options{})
	if err != nil {
		syscall.Unmount(mnt, syscall.MNT_DETACH)
		t.Fatalf("mount over a dead mount: %v", err)
	}
	defer srv.Unmount()
	got, err := os.ReadFile(filepath.Join(mnt, c.String()))
	if err != nil || string(got) != "still here\n" {
		t.Fatalf("read after remount: %q %v", got, err)
	}
}
