// Package gobuild is `buildchaind go build`: a Go build whose every compile, assemble and link
// step is a derivation, built in the sandbox with the go toolchain from the store (node/toolchain/
// gotoolchain), cached by the builder, so that a step whose inputs did not change never runs
// again.
//
// # How the steps are found
//
// The go command itself plans and drives the build: `go build -trimpath -toolexec FORWARDER`
// with GOCACHEPROG="FORWARDER -cacheprog", so every tool step it runs comes here, and so does
// every question it asks its build cache (§The go command's cache). The binary is written to
// a new file in the work directory and then moved to -o: the go command skips the main
// package's compile and the link when the -o file is up to date, and those steps would then
// be missing from Stats (and from --publish); without -o (or with -o naming a directory) an
// up-to-date binary is left as it is and those two steps are not counted. The go command run
// is a copy of the toolchain's bin/go in the user's cache directory with GOROOT set to the
// toolchain in the store: the toolchain may be on the store's FUSE view, and exec of a binary
// on a FUSE mount served by the exec'ing process can deadlock (golang/go#11155). The
// forwarder (forwarder/main.go, a tiny std-only program) hands each invocation to this process
// over a unix socket. It is compiled
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
// the derivation is added to the store and, if Config.Substitute is set (the `buildchaind go
// build` command sets the network cache of node/runtime: the chain's VALID claim for the
// derivation, the output's closure fetched from peers with every block hash-checked), the
// substitute is used and recorded as the cached output; a substituted step adds nothing else
// (a second developer's link would otherwise copy every archive into the store). Only a step
// that runs adds its sources and archives (an archive already in the store is only
// temp-pinned, under the store's add lock so no GC comes between) and is built in the sandbox. At most Config.Jobs steps (one per core)
// build at once, while the go command runs up to 4× as many steps, so that cached and
// substituted steps (which wait on the store and the network) overlap with builds.
//
// # The go command's cache
//
// Without a cache of its own the go command would run every step of every build through the
// forwarder (a process, a staged step directory hashed, the output copied back): a build where
// nothing changed measured 2.6-4.6× a plain go build with a warm GOCACHE. So the forwarder is
// also the go command's GOCACHEPROG (the protocol of cmd/go/internal/cacheprog, JSON over
// stdin/stdout, relayed to this process over a second socket), and this process answers it
// from gocache/ in the builder's state directory (gocache.go):
//
//   - put: the go command stores a package's archive (the steps' output, packed and
//     build-ID-stamped by the go command itself) under the package's action ID, and small
//     files of its own (the source list, the compiler's output) under keys derived from it.
//     The body is written to o/{output ID} (its sha256), and the index (index.json) maps the
//     action ID to it and, for an archive, to the steps of this build that made it: the
//     compile whose -buildid carries the action ID and the asm steps of the same object
//     directory (derivation, output, inputs). An archive no step accounts for is not indexed.
//   - get: a hit needs the body whole (its sha256 is the output ID) and every step the entry
//     names still the builder's cached output of its derivation, i.e. built in the sandbox or
//     substituted from a VALID claim, and in the store; anything else is a miss, and the go
//     command runs the steps (each then a cached or substituted derivation, or a build). A hit
//     counts those steps as cached (Step.GoCache), pins them under the build's root and lets
//     --publish claim them, as if the go command had run them. A step that names a body as
//     an archive (the link's importcfg) gets its store CID from the index: hashed once.
//
// The index is read once per build and merged back at its end under an flock; entries no
// build used for five days go then, with the bodies no entry names. After an edit the go
// command asks for the edited package and its dependents' new action IDs, misses, and runs
// exactly those steps and the link. bench/gobuild on the forwarder module (126 steps; load
// average 15-19 on 2 cores, two runs) measured a build where nothing changed at 0.73-0.83× a
// plain go build with a warm GOCACHE (was 2.6-4.6× without the cache program) and an edit of
// the main package (its compile and the link in the sandbox) at 1.13-1.37× (was 3-8×; part
// of that was the sandbox's CPU weight on a busy machine, node/sandbox/cgroup_linux.go
// cpuSharesV1). On
// bench/store (520 steps, third-party modules; load 14-19): warm 0.44× (the plain build links,
// ours takes the link from the store), an edit of internal/atomicfile (5 steps: it, its three
// importers and the link) 1.03×, cold 0.86×.
//
// On buildchaind itself (2252 steps; 2026-12-04, one full run of bench/gobuild at nice 10
// beside the other work of the machine, load average 13-25 on 2 cores; every figure against a
// plain go build -trimpath run just before it):
//
//   - cold 0.88× (13m37s vs 15m25s; binary byte-identical). Summed over the steps (2 sandbox
//     slots, up to 8 steps in flight): sandbox 18m17s (its start ≈ 2m21s: 2252 × 63 ms), store
//     add 4m48s, the builder's setup 5m03s, output add and scan 2m39s, copy out 1m23s;
//   - warm 0.36× (11.4s vs 31.6s): the go command took 2090 packages from its cache and ran only
//     the link, a cached derivation;
//   - second developer 0.15× (2m29s vs 17m04s with an empty GOCACHE): all 2252 steps
//     substituted over loopback, including the link (the bench writes the same -o name in both
//     stores: it is in the link's derivation), chain+fetch 5m41s summed, store add 36s;
//   - an edit of node/progress 0.98× (58.4s vs 59.6s): 8 steps built (7 compiles and the link),
//     the sandbox 20.2s compiling and 26.1s linking, output add and scan 2.3s. An earlier run
//     (load 2-8) measured this edit at 4.36× while the builder still scanned an output once
//     per input for its references (the link of buildchaind has over 2000 inputs);
//     node/builder/refscan.go makes it one pass (BenchmarkRefScan, 4 MB and 2000 CIDs: 19 ms
//     against 15.9 s). Stats.Line still counts all 2252 steps: 2244 are cached ones the go
//     command took from its cache (2083 packages), as they are in a warm build.
//
// # Where the time goes
//
// Stats.TimeLine (printed by `buildchaind go build -v` and bench/gobuild) splits the wall time
// into the setup before the go command starts, the go command alone until it runs its first
// tool step (loading the packages, planning, its first cache hits), the steps, and the finish
// (pins, the cache index), and sums each step's Times: planning it (arguments rewritten, files
// hashed), store add, chain and fetch, waiting for a sandbox slot, the builder's setup, the
// sandbox for compiles (and asm) and for links, adding the output and scanning it for
// references (node/builder/refscan.go: one pass whatever the number of inputs), and copying
// the outputs back.
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
