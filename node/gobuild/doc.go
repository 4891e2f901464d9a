// Package gobuild is `buildchaind go build`: a Go build whose every compile, assemble and link
// step is a derivation, built in the sandbox with the go toolchain from the store (node/toolchain/
// gotoolchain), cached by the builder, so that a step whose inputs did not change never runs
// again.
//
// # How the steps are found
//
// The go command itself plans and drives the build: `go build -trimpath -a -toolexec FORWARDER`
// with an empty GOCACHE, so it invokes every tool step (-a: even when the -o file is up to
// date). The go command run is a copy of the toolchain's bin/go in the user's cache directory
// with GOROOT set to the toolchain in the store: the toolchain may be on the store's FUSE view,
// and exec of a binary on a FUSE mount served by the exec'ing process can deadlock
// (golang/go#11155). The forwarder (forwarder/main.go, a tiny
// std-only program) hands each invocation to this process over a unix socket. It is compiled
// once per toolchain (keyed by the toolchain's CID and the forwarder's source) into the user's
// cache directory ($XDG_CACHE_HOME/buildchain/gobuild, else ~/.cache/buildchain/gobuild),
// written atomically, and shared by every store of the user. Each invocation becomes a
// derivation:
//
//   - the tool is the toolchain's (/ipfs/store/{go}/pkg/tool/...);
//   - the files it reads are copied into one "step" store path (a directory d{k} per host
//     directory, in order of first use: sources, embedded files, go_asm.h, symabis, and the
//     rewritten importcfg/embedcfg), except the toolchain's own files (GOROOT) and archives
//     (.a, .o), which are store paths of their own (hashed once per file version) named in the
//     importcfg, so a step does not copy its dependencies;
//   - -trimpath rules, the working directory and GOROOT are rewritten to the sandbox paths, so
//     the compiler writes the same bytes as on the host; -c=N (the compiler's backend
//     concurrency, which depends on the machine and never on the output) is fixed;
//   - outputs (-o, -asmhdr) go to $out and are copied back where the go command expects them.
//
// No host path, user name or time enters a derivation, so the same source at two paths gives the
// same derivation CIDs. Because the go command computes the build IDs (its action and content
// IDs) and does the packing and build-ID stamping itself, and -toolexec is recorded neither in
// its cache keys nor in the binary's build info, the binary is byte-identical to a plain
// `go build -trimpath` with the same toolchain and settings.
//
// Version queries (`compile -V=full`, which the go command hashes into its cache keys) run on
// the host directly.
//
// # Cache, substitutes, parallelism
//
// A step's sources and archives are first only hashed (no store lock, nothing written): a step
// whose derivation the builder has a cached output of is not run, and adds nothing. Otherwise
// they are added to the store with the derivation, and, if
// Config.Substitute is set (the `buildchaind go build` command sets the network cache of
// node/runtime: the chain's VALID claim for the derivation, the output's closure fetched from
// peers with every block hash-checked), the substitute is used and recorded as the cached
// output; only then is the step built in the sandbox. At most Config.Jobs steps (one per core)
// build at once, while the go command runs up to 4× as many steps, so that cached and
// substituted steps (which wait on the store and the network) overlap with builds.
//
// A build where nothing changed still runs every step through the forwarder (the go command's
// GOCACHE is empty), each a process, a staged step directory hashed and the output copied
// back: bench/gobuild measured such a warm build at 4.6× a plain go build with a warm GOCACHE
// (126 steps, 3.3 s against 0.7 s, load average 15 on 2 cores), while a cold build is 0.8×
// and a second developer substituting every step 0.46× of a cold go build. Most of it is the
// go command and the forwarder processes, not this process (0.85 s of CPU here). Answering the
// go command's own cache through GOCACHEPROG (cmd/go/internal/cacheprog), with the action ID of
// each step (its -buildid) mapped to its derivation and output, would let an unchanged package
// skip the forwarder while still counting, pinning and publishing its step.
//
// # Pins: the cache survives a GC
//
// After a build, the derivation, the inputs and the output of every step are pinned under one
// GC root per module and arguments, pins/per-user/{user}/gobuild-{hash} (node/storefs;
// Config.Pin names it), and the build's temp pins are dropped. A complete build also unpins
// what the previous build of the same root used and this one did not (the old versions of an
// edited package), so `buildchaind store gc` keeps exactly what the next build needs; a
// failed build only adds pins. A failed step pins nothing: its staged sources go with the
// next GC.
//
// # cgo
//
// Only CGO_ENABLED=0 builds are supported (the C toolchain is not wired in): CGO_ENABLED=1 is
// refused up front, and a build that fails is checked for packages that have no Go files
// without cgo; ErrCgo names them. Packages with a pure-Go fallback (net, os/user) build
// without cgo, as with `CGO_ENABLED=0 go build`.
package gobuild
