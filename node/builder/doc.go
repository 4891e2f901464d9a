// Package builder is the build front end (docs/ARCHITECTURE.md §Derivations and builds): it loads a derivation from the store, builds
// the derivations its inputs name first, resolves it into one whose inputs are store CIDs only,
// runs it in node/sandbox with the inputs' closure read-only at /ipfs/store/{cid}, adds the
// output to node/storefs (modes preserved, self-references rewritten), and caches
// derivation → output so a rebuild of a cached derivation is instant. It also imports the
// bootstrap tools (a static busybox).
package builder
