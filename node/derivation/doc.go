// Package derivation owns the derivation format of docs/ARCHITECTURE.md §Derivations and builds: a canonical DAG-JSON object (keys
// sorted, no whitespace) addressed by a CIDv1 with codec dag-json, its validation, and the
// resolution of inputs that name another derivation's output ({"drv": CID, "output": "out"})
// into plain store CIDs, as Nix does for content-addressed derivations. It does no I/O.
package derivation
