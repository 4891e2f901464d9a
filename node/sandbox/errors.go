package sandbox

import (
	"errors"
	"fmt"
)

// Sentinel reasons; a *BuildError wraps exactly one of them, so callers use errors.Is.
var (
	ErrSetup       = errors.New("sandbox setup failed")
	ErrExit        = errors.New("builder failed")
	ErrTimeout     = errors.New("build timed out")
	ErrMemoryLimit = errors.New("build exceeded its memory limit")
	ErrPidsLimit   = errors.New("build exceeded its pids limit")
	ErrCanceled    = errors.New("build canceled")
)

// BuildError says why a sandboxed command failed.
type BuildError struct {
	Reason   error  // one of the sentinels above
	Detail   string // human-readable detail
	ExitCode int    // -1 when killed by a signal
	Signal   string // signal name when killed
}

func (e *BuildError) Error() string {
	if e.Detail == "" {
		return e.Reason.Error()
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
}

func (e *BuildError) Unwrap() error { return e.Reason }
