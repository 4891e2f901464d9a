package sandbox

import (
	"io"
	"time"
)

// Paths and identities inside every sandbox. They are fixed so that builds do not depend on the
// host they run on.
const (
	BuildDir       = "/build"
	HomeDir        = "/homeless-shelter"
	Hostname       = "localhost"
	BuilderUID     = 1000 // uid of the builder inside the user namespace (Nix uses the same)
	BuilderGID     = 100
	DefaultHostUID = 30000 // host uid the builder uid is mapped to when Config.HostUID is 0
	DefaultHostGID = 30000
	initArg0       = "buildchain-sandbox-init"
)

// Mount exposes a host path inside the sandbox.
type Mount struct {
	Source   string // host path (file or directory)
	Target   string // absolute path inside the sandbox
	Writable bool   // read-only (and nosuid, nodev) unless set
}

// Limits are applied through cgroups. Zero means "no limit" for each field.
type Limits struct {
	MemoryBytes int64 // memory (v1 memory.limit_in_bytes + memsw, v2 memory.max + swap.max=0)
	Pids        int64 // number of tasks (v1/v2 pids.max)
	CPUMillis   int64 // CPU bandwidth in thousandths of a core (1000 = one core)
}

// Config describes one sandboxed command.
type Config struct {
	Builder string            // absolute path inside the sandbox
	Args    []string          // arguments after argv[0]
	Env     map[string]string // derivation env (plus out); the fixed variables of docs/ARCHITECTURE.md §Derivations and builds are added
	// ExactEnv makes Env the builder's whole environment: nothing is added. A build in Nix's
	// layout sets Nix's own variables (docs/NIX.md), which differ from ours (no TZ, no
	// SOURCE_DATE_EPOCH, TEMP, TMP, NIX_STORE...), so its output equals Nix's build.
	ExactEnv bool
	Mounts   []Mount
	// BuildHostDir is the host directory mounted writable at /build (kept after a failed
	// build for inspection). When empty, /build is a tmpfs that vanishes with the sandbox.
	BuildHostDir string
	Limits       Limits
	Timeout      time.Duration // wall clock; 0 means none
	// Log receives the builder's stdout and stderr (interleaved as written).
	Log io.Writer
	// HostUID/HostGID are the host ids the builder's uid 1000 / gid 100 map to.
	HostUID, HostGID int
	// HostNetwork keeps the build in the host's network namespace instead of a new one with
	// only a loopback. Only fixed-output builds (whose output is checked against a CID
	// declared in advance) get it; every other build has no network. Such a build also gets
	// the host's FetchEtc files (DNS configuration, CA bundle) in its /etc.
	HostNetwork bool
}

// Result is what a finished (successful) sandbox run reports.
type Result struct {
	Duration time.Duration // from start of the init to exit of the builder
}
