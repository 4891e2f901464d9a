package debian

import (
	_ "embed"
	"sync"

	"github.com/buildchain/buildchain/node/deb"
)

//go:embed debian.lock
var debianLock []byte

var parsed struct {
	sync.Once
	lock deb.Lock
	err  error
}

// DebianLock returns the parsed debian.lock.
func DebianLock() (deb.Lock, error) {
	parsed.Do(func() { parsed.lock, parsed.err = deb.ParseLock(debianLock) })
	return parsed.lock, parsed.err
}
