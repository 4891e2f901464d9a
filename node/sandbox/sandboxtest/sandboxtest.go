// Package sandboxtest is the TestMain of packages whose tests run real sandbox builds: the
// sandbox re-executes the test binary as the build's init (node/sandbox.Init), so the test
// binary must hand over to it before running any test.
package sandboxtest

import (
	"os"
	"testing"

	"github.com/buildchain/buildchain/node/sandbox"
)

// Main runs the sandbox's init when the binary was started as one, else the tests.
func Main(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}
