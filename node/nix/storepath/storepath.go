// Package storepath names Nix store paths the way Nix 2.8 computes them
// (src/libstore/store-api.cc: makeStorePath, makeFixedOutputPath, makeTextPath): a path is
// /nix/store/{hash}-{name} where hash is the Nix base32 of the first 160 bits (XOR-folded) of
// sha256("{type}:sha256:{hex digest}:/nix/store:{name}").
//
// Nix base32 and the hash folding come from github.com/nix-community/go-nix, whose helpers are
// the field's Go implementation; this package adds the path types.
package storepath

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nix-community/go-nix/pkg/nixbase32"
	"github.com/nix-community/go-nix/pkg/nixhash"
)

// Dir is the store directory every path lives in. Nix can use another one; binary caches
// built for /nix/store serve only /nix/store clients, so we support just this one.
const Dir = "/nix/store"

// HashLen is the length of the base32 hash part of a path (160 bits).
const HashLen = 32

// ErrInvalid: a string is not a store path.
var ErrInvalid = errors.New("not a Nix store path")

// Validate checks that p is /nix/store/{32 base32 chars}-{name} with a name Nix accepts.
func Validate(p string) error {
	rest, ok := strings.CutPrefix(p, Dir+"/")
	if !ok {
		return fmt.Errorf("%w: %q does not start with %s/", ErrInvalid, p, Dir)
	}
	if len(rest) < HashLen+2 || rest[HashLen] != '-' {
		return fmt.Errorf("%w: %q: want %s/{32-character hash}-{name}", ErrInvalid, p, Dir)
	}
	if err := nixbase32.ValidateString(rest[:HashLen]); err != nil {
		return fmt.Errorf("%w: %q: hash part: %v", ErrInvalid, p, err)
	}
	return ValidateName(rest[HashLen+1:])
}

// ValidateName checks a store path name as Nix does (checkName): at most 211 bytes of
// letters, digits and +-._?=, not starting with '.'.
func ValidateName(name string) error {
	if name == "" || len(name) > 211 {
		return fmt.Errorf("%w: name %q must be 1 to 211 bytes", ErrInvalid, name)
	}
	if name[0] == '.' {
		return fmt.Errorf("%w: name %q starts with '.'", ErrInvalid, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte("+-._?=", c) >= 0 {
			continue
		}
		return fmt.Errorf("%w: name %q has the character %q", ErrInvalid, name, c)
	}
	return nil
}

// HashPart returns the 32-character hash of a valid store path.
func HashPart(p string) string { return p[len(Dir)+1 : len(Dir)+1+HashLen] }

// Name returns the name of a valid store path.
func Name(p string) string { return p[len(Dir)+1+HashLen+1:] }

// Base returns {hash}-{name}.
func Base(p string) string { return p[len(Dir)+1:] }

// Make is Nix's makeStorePath: type is e.g. "output:out", "source" or "text:{refs}".
func Make(typ string, digest [sha256.Size]byte, name string) string {
	s := typ + ":sha256:" + hex.EncodeToString(digest[:]) + ":" + Dir + ":" + name
	h := sha256.Sum256([]byte(s))
	return Dir + "/" + nixbase32.EncodeToString(nixhash.CompressHash(h[:], 20)) + "-" + name
}

// withRefs is Nix's makeType: the type followed by ":{path}" for each reference, sorted.
func withRefs(typ string, refs []string) string {
	sorted := append([]string(nil), refs...)
	sort.Strings(sorted)
	for _, r := range sorted {
		typ += ":" + r
	}
	return typ
}

// Text is the path of a text file added with references (a .drv, builtins.toFile):
// makeTextPath.
func Text(name string, contents []byte, refs []string) string {
	return Make(withRefs("text", refs), sha256.Sum256(contents), name)
}

// Source is the path of a tree added recursively with sha256 (builtins.path, a local path in
// an expression): makeFixedOutputPath with FileIngestionMethod::Recursive and sha256, whose
// type is "source" plus its references. narHash is the sha256 of the tree's NAR.
func Source(name string, narHash [sha256.Size]byte, refs []string) string {
	return Make(withRefs("source", refs), narHash, name)
}

// FixedOutput is the path of any other fixed-output path (flat files, other hash types):
// makeFixedOutputPath. method is "r:" for a recursive (NAR) hash, "" for a flat file; algo and
// hexDigest name the declared hash ("sha1", "sha256", "sha512", ...).
func FixedOutput(name, method, algo, hexDigest string) string {
	if method == "r:" && algo == "sha256" {
		var d [sha256.Size]byte
		if raw, err := hex.DecodeString(hexDigest); err == nil && len(raw) == sha256.Size {
			copy(d[:], raw)
			return Source(name, d, nil)
		}
	}
	inner := sha256.Sum256([]byte("fixed:out:" + method + algo + ":" + hexDigest + ":"))
	return Make("output:out", inner, name)
}

// Output is the path of an input-addressed derivation output: makeOutputPath, from the
// derivation's hash modulo fixed-output inputs (drv.HashModulo).
func Output(drvHash [sha256.Size]byte, drvName, output string) string {
	name := drvName
	if output != "out" {
		name += "-" + output
	}
	return Make("output:"+output, drvHash, name)
}
