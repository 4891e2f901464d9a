// Package cargobuild is `buildchaind cargo build`: a cargo build whose every unit (each crate's
// rustc call, each build script's compile and its run) is a derivation, built in the sandbox
// with the rust and gcc toolchains from the store (node/toolchain/rusttoolchain and
// gcctoolchain), cached by the builder, so a unit whose inputs did not change never runs again,
// and a unit some peer has built and the chain verified can be taken from the network instead.
//
// # How the units are found
//
// Cargo plans, this package builds. A cargo chosen explicitly (Config.Cargo, by default
// Debian's /usr/bin/cargo, never whatever comes first on PATH) is asked in one of two ways
// (Config.Plan; by default the first when the rustc beside the cargo is the toolchain's
// release, else the second):
//
//   - its build plan (`cargo build --build-plan -Z unstable-options`, with RUSTC_BOOTSTRAP=1 and
//     the host rustc of the toolchain's release, so the plan's target facts are the
//     toolchain's): every invocation with its program, arguments, environment, working
//     directory, outputs and the invocations it depends on (plan.go);
//   - its unit graph (`--unit-graph`, which newer cargos keep: they dropped the build plan) and
//     `cargo metadata`: the units, their features, profiles and dependencies, from which
//     unitgraph.go writes the invocations cargo 1.65 would (tested against its build plan), with
//     the toolchain rustc's `--print cfg`, printed in the sandbox, for build scripts.
//
// Cargo itself runs nothing.
//
// # A unit as a derivation
//
// A unit is turned into a derivation only when the units it depends on are built, so its inputs
// are plain store paths: the bootstrap busybox (the shell), the rust and gcc toolchains, the
// package's source directory added as one store path (the workspace root for a local package,
// without its target directory and dot directories; a registry crate's directory as is), and
// the outputs of every unit it depends on, directly or not. Host paths in the arguments and
// environment are rewritten:
//
//   - a dependency's output file (--extern name=target/.../libx-H.rlib, a build script) is the
//     file of that unit's output store path; -L dependency=target/.../deps becomes one -L per
//     dependency output; the unit's own --out-dir is $out;
//   - the package directory (the working directory, CARGO_MANIFEST_DIR) is the source store path;
//   - a build script's OUT_DIR is $out/out of its run, which also keeps the script's stdout in
//     $out/output; its RUSTC is the toolchain's rustc; NUM_JOBS is fixed at 1;
//   - rustc links with -C linker=/ipfs/store/{gcc}/bin/cc; incremental compilation, JSON
//     diagnostics and cargo's LD_LIBRARY_PATH are dropped.
//
// A value that still names a host path of the build (the target directory, a package
// directory) is an error (ErrUnsupported), never a silently host-dependent derivation.
//
// The build plan is made before any build script runs, so the script's instructions (its
// `cargo:rustc-cfg`, `cargo:rustc-env`, `cargo:rustc-link-lib`, `cargo:rustc-link-search`,
// `cargo:rustc-link-arg` (with its -bins, -bin=NAME= and -cdylib forms, each for the targets
// it names) and `cargo:rustc-flags` lines) are read from the run's output and applied here,
// as cargo does: to the compiles of the script's own package, and link search paths to every
// unit that depends on it too. Its other `cargo:KEY=VALUE` lines are metadata:
// when its package has `links = "NAME"`, the build script runs of the packages depending on it
// (whose plan waits for this run) get them as DEP_{NAME}_{KEY}, as cargo gives them; a path
// the script printed (e.g. its OUT_DIR) names the run's output store path, an input of theirs.
//
// # Scheduling and results
//
// Units whose dependencies are done are built in parallel (Config.Jobs at a time); each result
// is copied where cargo would have written it (target/{profile}/deps, .../build/{pkg}-{hash},
// the final binaries), so `target/debug/NAME` is the program. The binaries name the gcc
// toolchain's loader and libc by store path (/ipfs/store/{gcc}/...), as Nix's do. The
// warnings of the workspace's own packages (rustc's diagnostics, from the unit's build log,
// and build scripts' `cargo:warning=` lines) are Stats.Warnings, in plan order; registry
// packages' are not shown, as cargo shows none.
//
// Not supported: cross compilation (--target), and LTO and -Z build-std from a unit graph
// (docs/cargo.md).
package cargobuild
