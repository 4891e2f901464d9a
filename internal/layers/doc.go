// Package layers holds the test that keeps the import graph layered: every
// package of the module imports only packages of a lower layer, or of its
// own row, of the table in docs/ARCHITECTURE.md §Layers. That table is the
// one source of truth for the order; the test reads it from the document.
package layers
