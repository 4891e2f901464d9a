package cli

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

// SaltRecord is what `commit` keeps so that `reveal` can open the commit.
type SaltRecord struct {
	ChainID    string `json:"chain_id"`
	MarketID   uint64 `json:"market_id"`
	Predictor  string `json:"predictor"`
	Outcome    string `json:"outcome"`
	Salt       string `json:"salt"` // hex
	CommitHash string `json:"commit_hash"`
}

// SaltPath is where the record of (chain, market, predictor) lives under the client home:
// <home>/market-salts/<chain-id>/<market-id>-<predictor>.json.
func SaltPath(home, chainID string, marketID uint64, predictor string) string {
	return filepath.Join(home, "market-salts", chainID, strconv.FormatUint(marketID, 10)+"-"+predictor+".json")
}

// WriteSalt stores a record (0600, atomically and durably through internal/atomicfile,
// so a crash never leaves half a salt). It refuses to overwrite an existing record: losing the salt of a
// broadcast commit would forfeit its stake.
func WriteSalt(path string, r SaltRecord) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("a salt for this market and account already exists at %s: you have committed already (remove the file only if that commit never made it on chain)", path)
	}
	bz, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Create(path, bz, 0o600); err != nil {
		return fmt.Errorf("storing salt: %w", err)
	}
	return nil
}

// ReadSalt loads a record.
func ReadSalt(path string) (SaltRecord, []byte, error) {
	var r SaltRecord
	bz, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil, fmt.Errorf("no salt at %s: commit from this machine and home first, or pass --salt and --outcome", path)
	}
	if err != nil {
		return r, nil, fmt.Errorf("reading salt: %w", err)
	}
	if err := json.Unmarshal(bz, &r); err != nil {
		return r, nil, fmt.Errorf("salt file %s is corrupt: %w", path, err)
	}
	salt, err := hex.DecodeString(r.Salt)
	if err != nil {
		return r, nil, fmt.Errorf("salt file %s: bad salt: %w", path, err)
	}
	return r, salt, nil
}
