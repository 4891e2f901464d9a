package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

// toolchainDir (under StateDir) holds one file per imported toolchain, named after it and
// holding its store root CID, so `drv add` can fill @NAME@ (node/toolchain imports them).
const toolchainDir = "toolchains"

// toolchainName is a template variable name (see Template).
var toolchainName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// RecordToolchain remembers c as the store root of the toolchain name (see node/toolchain).
func (b *Builder) RecordToolchain(name string, c cid.Cid) error {
	if !toolchainName.MatchString(name) {
		return fmt.Errorf("toolchain name %q: want [a-z][a-z0-9_-]*", name)
	}
	dir := filepath.Join(b.cfg.StateDir, toolchainDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, name), []byte(c.String()+"\n"), 0o644)
}

// Toolchains returns every recorded toolchain: name → store root.
func (b *Builder) Toolchains() (map[string]cid.Cid, error) {
	ents, err := os.ReadDir(filepath.Join(b.cfg.StateDir, toolchainDir))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]cid.Cid{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]cid.Cid{}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") || !e.Type().IsRegular() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(b.cfg.StateDir, toolchainDir, e.Name()))
		if err != nil {
			return nil, err
		}
		c, err := cid.Decode(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("toolchain record %s: %w", e.Name(), err)
		}
		out[e.Name()] = c
	}
	return out, nil
}

// TemplateVars are the variables a derivation template gets without --set: @system@, @bootstrap@
// (once imported) and @NAME@ for every imported toolchain.
func (b *Builder) TemplateVars() (map[string]string, error) {
	vars := map[string]string{"system": HostSystem()}
	if bb, err := b.Bootstrap(); err == nil {
		vars["bootstrap"] = bb.String()
	}
	tcs, err := b.Toolchains()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(tcs))
	for n := range tcs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, taken := vars[n]; !taken {
			vars[n] = tcs[n].String()
		}
	}
	return vars, nil
}

// RecordRefs records the store paths c refers to at run time (none for a self-contained
// toolchain), so builds using c need not scan it (see References).
func (b *Builder) RecordRefs(c cid.Cid, refs []cid.Cid) error {
	return b.store.SetReferences(c, refs)
}

// TempDir makes a scratch directory under StateDir/tmp (same file system as the builds, swept
// when its process is gone); the caller removes it with RemoveAll.
func (b *Builder) TempDir(name string) (string, error) { return b.tempDir(name) }

// RemoveAll removes a directory tree even where it was made read-only.
func RemoveAll(dir string) { removeAll(dir) }

// Canonicalise gives a tree the permissions of a store path (files 0444 or 0555, directories
// 0555, no special bits), as every build output gets: an imported tree then has the same CID
// whatever the umask or the modes of the files it was made from.
func Canonicalise(root string) error { return canonicalise(root) }
