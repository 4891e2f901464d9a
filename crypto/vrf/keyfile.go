package vrf

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

// DefaultKeyFile is the key file's path relative to a node home, next to
// CometBFT's priv_validator_key.json.
const DefaultKeyFile = "config/vrf_key.json"

// keyFileJSON is the on-disk form. The public key is stored redundantly so a
// file whose seed and public key disagree (corruption, hand edits) is caught.
type keyFileJSON struct {
	Suite     string `json:"suite"`
	Seed      string `json:"seed"`
	PublicKey string `json:"public_key"`
}

// KeyFilePath returns the key file path for a node home.
func KeyFilePath(home string) string { return filepath.Join(home, DefaultKeyFile) }

// SaveKeyFile writes k to path with mode 0600, atomically and durably
// (internal/atomicfile), creating parent directories. It refuses to overwrite an existing
// file because losing a registered VRF key stops its authority from
// proposing valid blocks.
func SaveKeyFile(path string, k PrivateKey) error {
	if k.IsZero() {
		return errors.New("vrf: save: empty key")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("vrf: save %s: %w", path, fs.ErrExist)
	}
	data, err := json.MarshalIndent(keyFileJSON{
		Suite:     SuiteName,
		Seed:      hex.EncodeToString(k.Seed()),
		PublicKey: hex.EncodeToString(k.Public()),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("vrf: save: %w", err)
	}
	// Create links the file into place, so a concurrent writer is never clobbered.
	if err := atomicfile.Create(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("vrf: save: %w", err)
	}
	return nil
}

// LoadKeyFile reads a key written by SaveKeyFile.
func LoadKeyFile(path string) (PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("vrf: load key: %w", err)
	}
	var kf keyFileJSON
	if err := json.Unmarshal(data, &kf); err != nil {
		return PrivateKey{}, fmt.Errorf("vrf: load key %s: %w", path, err)
	}
	if kf.Suite != SuiteName {
		return PrivateKey{}, fmt.Errorf("vrf: load key %s: suite %q, want %q", path, kf.Suite, SuiteName)
	}
	seed, err := hex.DecodeString(kf.Seed)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("vrf: load key %s: seed: %w", path, err)
	}
	k, err := NewKeyFromSeed(seed)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("vrf: load key %s: %w", path, err)
	}
	pub, err := hex.DecodeString(kf.PublicKey)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("vrf: load key %s: public_key: %w", path, err)
	}
	if !k.Public().Equal(pub) {
		return PrivateKey{}, fmt.Errorf("vrf: load key %s: public_key does not match seed", path)
	}
	return k, nil
}

// LoadOrGenerateKeyFile loads the key at path, creating a fresh one first if
// the file does not exist. The boolean reports whether a key was created.
func LoadOrGenerateKeyFile(path string) (PrivateKey, bool, error) {
	k, err := LoadKeyFile(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return PrivateKey{}, false, err
	}
	k, err = GenerateKey(nil)
	if err != nil {
		return PrivateKey{}, false, err
	}
	if err := SaveKeyFile(path, k); err != nil {
		return PrivateKey{}, false, err
	}
	return k, true, nil
}
