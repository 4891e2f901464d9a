// Package failpoint kills the process at a named point of the code when the
// environment asks for it, so that a test running real processes can crash
// one exactly where a crash matters (a transaction sent but not yet in a
// block, say) and check what a restart makes of it. CometBFT's libs/fail
// does the same with FAIL_TEST_INDEX.
//
// Unset, a failpoint costs one comparison.
package failpoint

import (
	"os"
	"syscall"
)

// Env names the failpoint to hit: BUILDCHAIN_FAILPOINT=<point>.
const Env = "BUILDCHAIN_FAILPOINT"

var armed = os.Getenv(Env)

// Hit kills this process with SIGKILL if $BUILDCHAIN_FAILPOINT is point:
// nothing runs after it (no deferred call, no flush), as with kill -9.
func Hit(point string) {
	if armed == "" || armed != point {
		return
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
