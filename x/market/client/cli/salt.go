package cli

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/buildchain/buildchain/internal/saltfile"
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

// Salts is the store (internal/saltfile) of the records of one chain under the client home:
// <home>/market-salts/<chain-id>/<market-id>-<predictor>.json.
type Salts struct{ s *saltfile.Store }

// OpenSalts opens the records of chainID under home.
func OpenSalts(home, chainID string) (Salts, error) {
	s, err := saltfile.Open(filepath.Join(home, "market-salts", chainID))
	return Salts{s}, err
}

func saltName(marketID uint64, predictor string) string {
	return strconv.FormatUint(marketID, 10) + "-" + predictor
}

// Path is the file of the record of (market, predictor).
func (s Salts) Path(marketID uint64, predictor string) string {
	return s.s.Path(saltName(marketID, predictor))
}

// Write stores a record before its commit is sent. It refuses to overwrite an existing
// record (saltfile.ErrExists): losing the salt of a broadcast commit would forfeit its stake.
func (s Salts) Write(r SaltRecord) error {
	if err := s.s.Create(saltName(r.MarketID, r.Predictor), r); err != nil {
		return fmt.Errorf("you may have committed already: %w", err)
	}
	return nil
}

// Read loads the record of (market, predictor) and its salt.
func (s Salts) Read(marketID uint64, predictor string) (SaltRecord, []byte, error) {
	var r SaltRecord
	found, err := s.s.Get(saltName(marketID, predictor), &r)
	if err != nil {
		return r, nil, err
	}
	if !found {
		return r, nil, fmt.Errorf("no salt at %s: commit from this machine and home first, or pass --salt and --outcome", s.Path(marketID, predictor))
	}
	salt, err := hex.DecodeString(r.Salt)
	if err != nil {
		return r, nil, fmt.Errorf("salt file %s: bad salt: %w", s.Path(marketID, predictor), err)
	}
	return r, salt, nil
}
