package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
)

// Escape attempts as real derivation builds. Each must fail in the build with an error that
// says why, add nothing to the store, and leave the host untouched.
func TestEscapeBuilds(t *testing.T) {
	e := newEnv(t)
	e.mountFUSE() // inputs come from the real FUSE store, as on a node
	ctx := context.Background()

	// A store path that exists (in the store and the FUSE view) but is not an input.
	other := addDir(t, e, map[string]string{"secret": "OUTSIDE-CLOSURE"})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	hostFile := filepath.Join(t.TempDir(), "host-secret")
	require.NoError(t, os.WriteFile(hostFile, []byte("HOST-SECRET"), 0o644))

	bbPath := "/ipfs/store/" + e.bb.String()
	cases := []struct {
		name, script string
		limits       sandbox.Limits
		timeout      time.Duration
		want         error
		says         string
	}{
		{"network", fmt.Sprintf("echo hi | nc -w 2 127.0.0.1 %d && echo > $out", port), sandbox.Limits{}, 0, sandbox.ErrExit, "exited with code 1"},
		{"host file", "cat " + hostFile + " > $out", sandbox.Limits{}, 0, sandbox.ErrExit, "exited with code 1"},
		{"outside closure", "cat /ipfs/store/" + other.String() + "/secret > $out", sandbox.Limits{}, 0, sandbox.ErrExit, "exited with code 1"},
		{"write input", "echo pwned > " + bbPath + "/bin/pwned; echo pwned > " + bbPath + "/bin/sh && echo > $out", sandbox.Limits{}, 0, sandbox.ErrExit, "exited with code"},
		{"host processes", fmt.Sprintf("kill -0 %d && echo > $out", os.Getpid()), sandbox.Limits{}, 0, sandbox.ErrExit, "exited with code 1"},
		{"fork bomb", "i=0; while [ $i -lt 500 ]; do sleep 3 & i=$((i+1)); done; wait; echo > $out", sandbox.Limits{Pids: 32}, 0, sandbox.ErrPidsLimit, "pids limit"},
		{"memory", "a=$(head -c 400000000 /dev/zero | tr '\\000' x); echo ${#a} > $out", sandbox.Limits{MemoryBytes: 64 << 20}, 0, sandbox.ErrMemoryLimit, "memory limit"},
		{"timeout", "sleep 600; echo > $out", sandbox.Limits{}, time.Second, sandbox.ErrTimeout, "timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := sandbox.LimitsAvailable(tc.limits); err != nil {
				t.Skip("needs cgroups: " + err.Error())
			}
			before, err := e.store.AllBlocks()
			require.NoError(t, err)
			e.b.cfg.Limits, e.b.cfg.Timeout = tc.limits, time.Minute
			if tc.timeout > 0 {
				e.b.cfg.Timeout = tc.timeout
			}
			drv := e.add(`{"name":"escape","system":"@system@","builder":"/ipfs/store/@bootstrap@/bin/sh",
				"args":["-c","PATH=/ipfs/store/@bootstrap@/bin\n@script@"],"env":{},"inputs":["@bootstrap@"],"outputs":["out"]}`,
				map[string]string{"script": jsonString(tc.script)})
			_, err = e.b.Build(ctx, drv, Options{})
			require.ErrorIs(t, err, tc.want, e.log.String())
			require.Contains(t, err.Error(), tc.says)
			require.Contains(t, err.Error(), "build of escape")
			after, err := e.store.AllBlocks()
			require.NoError(t, err)
			for _, c := range after {
				if !containsCID(before, c) {
					_, derr := e.b.LoadDerivation(c)
					require.NoError(t, derr, "a failed build left block %s in the store", c)
				}
			}
		})
	}
	select {
	case <-accepted:
		t.Fatal("the host listener accepted a connection from a build")
	default:
	}
	got, err := os.ReadFile(filepath.Join(e.store.MountDir(), e.bb.String(), "bin", "sh"))
	require.NoError(t, err)
	require.Greater(t, len(got), 1000, "bin/sh of the input is intact")
	_, err = os.Stat(filepath.Join(e.store.MountDir(), e.bb.String(), "bin", "pwned"))
	require.True(t, os.IsNotExist(err))
}

// jsonString escapes s for use inside a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func addDir(t *testing.T, e *env, files map[string]string) cid.Cid {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644))
	}
	cc, err := e.store.AddPath(context.Background(), dir, storefs.AddOptions{PreserveMode: true})
	require.NoError(t, err)
	return cc
}
