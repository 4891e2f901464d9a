// Package nix holds nothing itself: its sub-packages let an unmodified Nix use buildchain
// (docs/NIX.md). storepath names Nix store paths, drv reads and hashes Nix's .drv files
// (ATerm), nar writes and reads Nix archives over our store, importer turns a .drv closure into
// buildchain derivations built in Nix's layout, nixcache serves verified outputs as a Nix
// binary cache and nixcli wires them into `buildchaind nix`.
package nix
