package builder

import (
	"context"
	"crypto/sha256"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/nix-community/go-nix/pkg/nixbase32"

	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/nix/storepath"
	"github.com/buildchain/buildchain/node/sandbox"
)

// NixBuildCores is NIX_BUILD_CORES of every build in Nix's layout. Nix sets the machine's
// core count (or its `cores` setting); a fixed value keeps outputs the same on every builder.
// A Nix build compared with ours runs with `cores = 1` (docs/NIX.md).
const NixBuildCores = 1

// nixLayout returns the mounts and the environment of a derivation built in Nix's layout
// (derivation.NixLayout), as Nix 2.8 sets them up (LocalDerivationGoal::initEnv): /nix/store
// writable (the builder creates its output there), every input of the closure read-only at its
// Nix path, and Nix's variables around the .drv's env. Attributes named in passAsFile are
// written to /build/.attr-{base32 sha256 of the name} and passed as {name}Path, as Nix does.
func (b *Builder) nixLayout(ctx context.Context, d *derivation.Derivation, storeView, buildDir string) ([]sandbox.Mount, map[string]string, error) {
	mounts := []sandbox.Mount{{Source: storeView, Target: derivation.NixStoreDir, Writable: true}}
	pairs, err := d.NixMounts()
	if err != nil {
		return nil, nil, err
	}
	for _, pc := range pairs {
		c, err := cid.Decode(pc[1])
		if err != nil {
			return nil, nil, err
		}
		src, err := b.inputSource(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		mounts = append(mounts, sandbox.Mount{Source: src, Target: pc[0]})
	}
	env := map[string]string{
		"PATH":            "/path-not-set",
		"HOME":            sandbox.HomeDir,
		"NIX_STORE":       derivation.NixStoreDir,
		"NIX_BUILD_CORES": strconv.Itoa(NixBuildCores),
	}
	passAsFile := map[string]bool{}
	for _, name := range strings.Fields(d.Env["passAsFile"]) {
		passAsFile[name] = true
	}
	for k, v := range d.Env {
		if !passAsFile[k] {
			env[k] = v
			continue
		}
		sum := sha256.Sum256([]byte(k))
		fn := ".attr-" + nixbase32.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(buildDir, fn), []byte(v), 0o644); err != nil {
			return nil, nil, err
		}
		env[k+"Path"] = path.Join(sandbox.BuildDir, fn)
	}
	for _, k := range []string{"NIX_BUILD_TOP", "TMPDIR", "TEMPDIR", "TMP", "TEMP", "PWD"} {
		env[k] = sandbox.BuildDir
	}
	env["NIX_LOG_FD"] = "2"
	env["TERM"] = "xterm-256color"
	return mounts, env, nil
}

// recordNixRefs records which inputs a Nix-layout output refers to: Nix's reference scan looks
// for the 32-character hash part of every candidate store path in file contents and symlink
// targets (the store paths' names may differ).
func (b *Builder) recordNixRefs(out cid.Cid, dir string, d *derivation.Derivation) error {
	pairs, err := d.NixMounts()
	if err != nil {
		return err
	}
	patterns := make([]string, len(pairs))
	for i, pc := range pairs {
		patterns[i] = storepath.HashPart(pc[0])
	}
	sc := newRefScanner(patterns) // one pass whatever the number of inputs (refscan.go)
	if err := scanOutput(dir, sc.scan); err != nil {
		return err
	}
	var refs []cid.Cid
	seen := map[string]bool{}
	for i, pc := range pairs { // sorted by path: deterministic
		if sc.found(i) && !seen[pc[1]] {
			seen[pc[1]] = true
			c, _ := cid.Decode(pc[1])
			if !c.Equals(out) {
				refs = append(refs, c)
			}
		}
	}
	return b.store.SetReferences(out, refs)
}
