// Package buildcli is the command line of hermetic builds: `drv add|show`, `build`,
// `profile install|list|switch|rollback|delete` and `bootstrap`. The binary that mounts these
// commands must call sandbox.Init() first thing in main, because builds re-execute it.
package buildcli
