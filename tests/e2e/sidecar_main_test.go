package e2e

import (
	"testing"

	"github.com/buildchain/buildchain/node/sandbox/sandboxtest"
)

// TestMain lets the sidecar tests run real sandbox builds in this process:
// the sandbox re-executes the test binary as the build's init.
func TestMain(m *testing.M) { sandboxtest.Main(m) }
