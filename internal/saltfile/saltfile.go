// Package saltfile is the one store of the secrets that open a commitment: a blind claim's
// output and salt (x/claims/README.md §Blind rounds), a builder's result and salt, a market
// prediction's outcome and salt (x/market). Losing one costs a deposit, a bond slash or a
// stake, so each is written durably before the commitment is sent: one JSON file per secret
// in a directory (one file each, so that concurrent writers — `publish`, the node's sidecar,
// the CLI — never overwrite each other), through internal/atomicfile.
//
// Users: node/chain (publishers' claims: Claims.SubmitBatch, RevealDue), node/sidecar's
// results are in its own state file; x/claims/client/cli (`tx claims submit`, `commit`,
// `reveal`, `reveal-claim`), x/market/client/cli (`tx market commit`, `reveal`).
package saltfile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

// SaltLen is the length of the salts NewSalt draws.
const SaltLen = 32

// NewSalt draws a random salt.
func NewSalt() ([]byte, error) {
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("draw a salt: %w", err)
	}
	return salt, nil
}

// ErrExists: Create found a secret already kept under that name (the commitment it opens may
// be on chain: it is never overwritten).
var ErrExists = errors.New("a secret is already kept under this name")

// Store keeps secrets as <dir>/<name>.json.
type Store struct{ dir string }

// Open keeps secrets in dir (created 0700 if missing).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("salts dir: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Path is the file of name.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name+".json") }

// Put stores v under name (0600, atomically and durably), replacing what was there.
func (s *Store) Put(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.Path(name), data, 0o600)
}

// Create stores v under name like Put, but fails with ErrExists if name is kept already.
func (s *Store) Create(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Create(s.Path(name), data, 0o600); errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: %s (its commitment may be on chain; remove the file only if it never was)", ErrExists, s.Path(name))
	} else if err != nil {
		return fmt.Errorf("storing salt: %w", err)
	}
	return nil
}

// Get loads name into v; found is false if nothing is kept under name.
func (s *Store) Get(name string, v any) (found bool, err error) {
	data, err := os.ReadFile(s.Path(name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading salt: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("salt file %s is corrupt: %w", s.Path(name), err)
	}
	return true, nil
}

// Opening is what opens an x/claims commitment: the output (and, for a builder's result, its
// build time) and the salt; Derivation names the claim's derivation for a publisher's.
type Opening struct {
	Derivation  string `json:"derivation,omitempty"`
	Output      string `json:"output"`
	BuildTimeMs uint64 `json:"build_time_ms,omitempty"`
	Salt        []byte `json:"salt"`
}

// PutOpening stores what opens commitment, before the message carrying it is sent.
func (s *Store) PutOpening(commitment []byte, o Opening) error {
	return s.Put(hex.EncodeToString(commitment), o)
}

// GetOpening returns what opens commitment; found is false if it was never stored here.
func (s *Store) GetOpening(commitment []byte) (o Opening, found bool, err error) {
	found, err = s.Get(hex.EncodeToString(commitment), &o)
	return o, found, err
}
