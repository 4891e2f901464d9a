package storefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/closure"
)

// referencesDir holds the runtime references of store paths: one file per
// store path, references/{cid}, listing the store paths its files name by
// /ipfs/store/{cid} path, one CID a line. node/builder records them when it
// builds an output or first scans a fetched one. They live in the store, not
// beside the builder, because the store's own walk (GC, Closure) must keep
// them: a pinned output keeps what it runs with.
func (s *Store) referencesPath(c cid.Cid) string {
	return filepath.Join(s.root, "references", c.String())
}

// SetReferences records the runtime references of store path c (an empty
// list records that it has none), atomically and durably.
func (s *Store) SetReferences(c cid.Cid, refs []cid.Cid) error {
	lines := make([]string, len(refs))
	for i, r := range refs {
		lines[i] = r.String()
	}
	if err := atomicfile.WriteFile(s.referencesPath(c), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		return fmt.Errorf("record references of %s: %w", c, err)
	}
	return nil
}

// RecordedReferences returns the runtime references recorded for c; ok is
// false when none were recorded (c was not built here nor scanned yet).
func (s *Store) RecordedReferences(c cid.Cid) (refs []cid.Cid, ok bool, err error) {
	raw, err := os.ReadFile(s.referencesPath(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read references of %s: %w", c, err)
	}
	for _, f := range strings.Fields(string(raw)) {
		r, err := cid.Decode(f)
		if err != nil {
			return nil, false, fmt.Errorf("references of %s: bad entry %q: %w", c, f, err)
		}
		refs = append(refs, r)
	}
	return refs, true, nil
}

// Walker is the node's one closure walker (node/closure) over this store:
// IPLD links, derivation inputs and the recorded runtime references. GC,
// Closure, p2p fetches and the builder all walk with it.
func (s *Store) Walker() closure.Walker {
	return closure.Walker{References: func(c cid.Cid) ([]cid.Cid, error) {
		refs, _, err := s.RecordedReferences(c)
		return refs, err
	}}
}
