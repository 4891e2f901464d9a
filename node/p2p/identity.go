package p2p

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

// LoadOrCreateIdentity returns the node's private key stored at path, creating
// an Ed25519 key there on first use. The identity must survive restarts: peers,
// DHT provider records and the trusted-builders lists of others all name this
// node by the peer ID derived from it. An existing file that cannot be parsed
// is an error and is never overwritten, so a damaged key is noticed rather
// than silently replaced by a new identity.
func LoadOrCreateIdentity(path string) (crypto.PrivKey, error) {
	if path == "" {
		return nil, errors.New("p2p identity: empty key file path")
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := crypto.UnmarshalPrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("p2p identity: parse key file %s: %w", path, err)
		}
		if key.Type() != crypto.Ed25519 {
			return nil, fmt.Errorf("p2p identity: key file %s holds a %s key, want Ed25519", path, key.Type())
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("p2p identity: read key file: %w", err)
	}

	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("p2p identity: generate key: %w", err)
	}
	data, err = crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("p2p identity: marshal key: %w", err)
	}
	if err := atomicfile.Create(path, data, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created the identity first: use its key.
			return LoadOrCreateIdentity(path)
		}
		return nil, fmt.Errorf("p2p identity: write key file: %w", err)
	}
	return key, nil
}

// PeerIDFromKeyFile returns the peer ID of the identity at path without
// starting a host (for `node status`-like commands).
func PeerIDFromKeyFile(path string) (peer.ID, error) {
	key, err := LoadOrCreateIdentity(path)
	if err != nil {
		return "", err
	}
	return peer.IDFromPrivateKey(key)
}
