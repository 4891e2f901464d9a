// Command forwarder is the -toolexec program of `buildchaind go build` (node/gobuild): the go
// command runs it in front of every tool it invokes. It sends the invocation (arguments,
// directory, environment) over the unix socket named by $BUILDCHAIN_GOBUILD_SOCK to the
// buildchaind process that runs the build, which turns it into a derivation, and replays the
// tool's output and exit status. Version queries (-V=full, which the go command hashes into its
// cache keys) run the tool directly. Run as "forwarder -cacheprog" it is the go command's
// GOCACHEPROG instead: it copies the cache protocol (cmd/go/internal/cacheprog: JSON over stdin
// and stdout) to and from the socket named by $BUILDCHAIN_GOBUILD_CACHESOCK, where buildchaind
// answers from its own cache (node/gobuild/gocache.go). It is small and std-only so that it
// starts in a millisecond: buildchaind compiles it once with the go toolchain (node/gobuild
// embeds this file).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

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

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "forwarder: no tool to run")
		os.Exit(2)
	}
	if len(args) == 1 && args[0] == "-cacheprog" {
		cacheprog()
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-V") {
			err := syscall.Exec(args[0], args, os.Environ())
			fmt.Fprintln(os.Stderr, "forwarder:", err)
			os.Exit(2)
		}
	}
	dir, _ := os.Getwd()
	conn, err := net.Dial("unix", os.Getenv("BUILDCHAIN_GOBUILD_SOCK"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "forwarder: buildchaind go build is not listening:", err)
		os.Exit(2)
	}
	if err := json.NewEncoder(conn).Encode(request{Args: args, Dir: dir, Env: os.Environ()}); err != nil {
		fmt.Fprintln(os.Stderr, "forwarder:", err)
		os.Exit(2)
	}
	var resp response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		fmt.Fprintln(os.Stderr, "forwarder: no answer:", err)
		os.Exit(2)
	}
	os.Stdout.WriteString(resp.Stdout)
	os.Stderr.WriteString(resp.Stderr)
	os.Exit(resp.Code)
}

// cacheprog relays the go command's cache protocol between stdin/stdout and buildchaind. It
// exits once buildchaind closes the connection (after answering "close") or the go command
// closes stdin.
func cacheprog() {
	conn, err := net.Dial("unix", os.Getenv("BUILDCHAIN_GOBUILD_CACHESOCK"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "forwarder: buildchaind go build is not listening:", err)
		os.Exit(2)
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(os.Stdout, conn)
		close(done)
	}()
	go func() {
		_, _ = io.Copy(conn, os.Stdin)
		_ = conn.(*net.UnixConn).CloseWrite()
	}()
	<-done
	os.Exit(0)
}
