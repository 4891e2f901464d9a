// Package sandbox runs one build command hermetically (SPEC §2).
//
// It owns the Linux mechanics only: new user, mount, pid, net (loopback only, up), uts and ipc
// namespaces; a re-executed init (this binary, see Init) that builds a fresh tmpfs root and
// pivot_roots into it with the host paths it is given (inputs read-only, nosuid, nodev; the
// output view and /build writable), each mounted as an overlay so that no host path shows in
// /proc/self/mountinfo (layers_linux.go), a minimal /dev, a new /proc, the cleared environment, and
// then drops to an unprivileged uid (1000 inside, Config.HostUID outside) without capabilities
// before it execs the builder; memory, pids and cpu limits through cgroup v2 where those
// controllers are delegated to our cgroup, else through the cgroup v1 hierarchies; the
// wall-clock timeout kills the whole pid namespace. It knows nothing about derivations or the
// store: node/builder maps a derivation onto a Config.
//
// Start-up: re-executing a large Go binary costs its runtime and package initialisation (tens
// of milliseconds for buildchaind), so after its first build (or Prewarm) a process keeps one
// init started in advance, already in its own cgroups, waiting for a config (SetSpare turns
// this off). A spare holds no host mounts: the init unshares its mount namespace only when it
// gets a build.
//
// Every binary that calls Run must call Init first thing in main (and test binaries in TestMain),
// because Run re-executes /proc/self/exe as the sandbox init.
package sandbox
