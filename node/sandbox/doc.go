// Package sandbox runs one build command hermetically (SPEC §2).
//
// It owns the Linux mechanics only: new user, mount, pid, net (loopback only), uts and ipc
// namespaces, a re-exec'd init that builds a fresh tmpfs root and pivot_roots into it, the bind
// mounts it is given (inputs read-only, output and /build writable), a minimal /dev, a new /proc,
// the cleared environment, cgroup limits (v2 where delegated, else v1) and the wall-clock timeout.
// It knows nothing about derivations or the store: node/builder maps a derivation onto a Config.
//
// Every binary that calls Run must call Init first thing in main (and test binaries in TestMain),
// because Run re-executes /proc/self/exe as the sandbox init.
package sandbox
