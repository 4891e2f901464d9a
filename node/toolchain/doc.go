// Package toolchain imports named toolchains (a Go toolchain, a C toolchain, ...) into the
// store as bootstrap store paths, the way Nix treats its bootstrap tools: plain inputs whose
// CID a derivation names. `buildchaind bootstrap --toolchain NAME` imports one and prints its
// CID; derivation templates then get @NAME@ filled with it (as @bootstrap@ is with the busybox).
//
// # Contract of an importer
//
// A toolchain is registered once (Register, usually from the init function of its own package,
// which node/buildcli imports) with a Name that is also its template variable. Its Import
// function builds the toolchain's store root and returns its CID. It must be deterministic: the
// same pinned inputs give the same CID on any machine, whatever the paths, umask, user or time
// (stage the tree with Env.TempDir, then Env.AddTree, which canonicalises modes). It must check
// its inputs (pinned checksums, static binaries, ...) BEFORE adding anything, so that bad input
// leaves the store unchanged and returns an error that says what was wrong. An importer that
// needs a build step (e.g. patchelf in the sandbox) may use Env.Builder and return a build
// output's CID.
//
// Import (the package function) runs the importer, pins the root as a GC root of the user
// (program "toolchains") and records it in the builder's state, where builder.TemplateVars
// finds it.
//
// Env.Source is where the user asked the importer to read from instead of its default (a file
// or a directory, importer-specific); Env.Options are its `--option key=value` settings, which
// it documents in Toolchain.Options and rejects when unknown (CheckOptions).
package toolchain
