// Package runtime is the node as one object: the store, the builder, the
// libp2p host, the chain client and (for a build validator) the sidecar,
// opened and closed in one place (docs/ARCHITECTURE.md §Layers). Every
// front end (`node run`, `build`, `publish`, `verify`, `install`, the
// benches and the tests) opens a Runtime instead of wiring the parts itself.
//
// # Lifecycle
//
//  1. Open opens the store and the builder. Local work (building without
//     the network, adding derivations, reading the store) works at once;
//     nothing listens yet.
//  2. Start mounts the store's FUSE view (Config.FUSE) and starts the p2p
//     host (Config.P2P). A one-shot command may skip it: the operations that
//     need the network start the host on first use.
//  3. NewSidecar wires a build validator's sidecar onto the runtime (its
//     builder and network are the runtime's); the caller runs it.
//  4. Close stops what Start started and closes the store, in reverse
//     order. It is safe to call more than once.
//
// # Operations
//
// Every operation is safe against a concurrent garbage collection of the
// store (by this process or `store gc` in another) and idempotent:
//   - Fetch makes a closure local under the store's add lock and holds it
//     (a counted temp pin) until the caller releases it: a GC between the
//     arrival of a block and the pin cannot sweep it.
//   - Build builds with the chain's verified outputs as substitutes: the
//     builder's one recursion (builder.Options.Substitute, one cycle check)
//     asks Substitute for every derivation not cached; substituted outputs
//     are held until the build ends.
//   - Rebuild (the sidecar's builder) always runs the build and pins the
//     output under the program "sidecar", so the node keeps serving what
//     it reported and reprovides it (Config.P2P's Roots are the store's
//     pins). Retain (retain.go, run periodically by a runtime-made
//     sidecar) unpins it once every claim of the derivation is decided,
//     unless a VALID claim names it.
package runtime
