package nixcache

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nix-community/go-nix/pkg/narinfo/signature"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

// LoadOrCreateKey reads the cache's signing key from path (Nix's secret key format,
// "name:base64", as nix-store --generate-binary-cache-key writes it), creating one named name
// (0600) if the file does not exist. Clients trust its public key ("name:base64" of 32 bytes)
// with trusted-public-keys.
func LoadOrCreateKey(path, name string) (signature.SecretKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if name == "" || strings.Contains(name, ":") {
			return signature.SecretKey{}, fmt.Errorf("key name %q: non-empty, without ':'", name)
		}
		sk, _, err := signature.GenerateKeypair(name, rand.Reader)
		if err != nil {
			return signature.SecretKey{}, err
		}
		if err := atomicfile.Create(path, []byte(sk.String()+"\n"), 0o600); err != nil && !errors.Is(err, os.ErrExist) {
			return signature.SecretKey{}, err
		}
		// Another process may have created it first: use whatever is there now.
		if data, err = os.ReadFile(path); err != nil {
			return signature.SecretKey{}, err
		}
	} else if err != nil {
		return signature.SecretKey{}, err
	}
	sk, err := signature.LoadSecretKey(strings.TrimSpace(string(data)))
	if err != nil {
		return signature.SecretKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return sk, nil
}
