package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/nix/storepath"
)

// ErrNotIndexed: no imported derivation has this output path.
var ErrNotIndexed = errors.New("no imported derivation has this Nix path")

// Entry maps a Nix output path to the buildchain derivation that builds it.
type Entry struct {
	Path       string `json:"path"`       // /nix/store/{hash}-{name}
	DrvPath    string `json:"drvPath"`    // the .drv it came from
	Derivation string `json:"derivation"` // buildchain derivation CID (unresolved)
}

// Index is a directory of one small JSON file per output path, named by its hash part (what a
// Nix client asks a binary cache for), each written atomically.
type Index struct{ dir string }

// OpenIndex opens (creating) the index at dir ($BUILDCHAIN_HOME/nix/index).
func OpenIndex(dir string) (*Index, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Index{dir: dir}, nil
}

// Put records e.
func (x *Index) Put(e Entry) error {
	if err := storepath.Validate(e.Path); err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(x.dir, storepath.HashPart(e.Path)), append(data, '\n'), 0o644)
}

// Get returns the entry for a hash part.
func (x *Index) Get(hashPart string) (Entry, error) {
	var e Entry
	if len(hashPart) != storepath.HashLen || filepath.Base(hashPart) != hashPart {
		return e, fmt.Errorf("%w: %q", ErrNotIndexed, hashPart)
	}
	data, err := os.ReadFile(filepath.Join(x.dir, hashPart))
	if errors.Is(err, os.ErrNotExist) {
		return e, fmt.Errorf("%w: %s", ErrNotIndexed, hashPart)
	}
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("index entry %s: %w", hashPart, err)
	}
	return e, nil
}
