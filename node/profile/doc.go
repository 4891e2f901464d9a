// Package profile owns user profiles (docs/ARCHITECTURE.md §Derivations and builds): profiles/per-user/{user}/generations/{id} is a
// symlink forest of the union of the installed outputs, profiles/per-user/{user}/current points
// at the active generation and is switched by an atomic rename, ~/.buildchain-profile points at
// current, and every output of every generation is pinned in the store so GC keeps it.
package profile
