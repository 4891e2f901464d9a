package toolchain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/storefs"
)

// Errors of the registry; importers define their own for bad input.
var (
	ErrUnknown       = errors.New("unknown toolchain")
	ErrUnknownOption = errors.New("unknown toolchain option")
)

// Toolchain is one importable toolchain.
type Toolchain struct {
	// Name is the template variable (@Name@) and the --toolchain argument: [a-z][a-z0-9_-]*.
	Name string
	// Short is a one-line description for `bootstrap --help`.
	Short string
	// Options documents the keys Import accepts in Env.Options: key → meaning (with default).
	Options map[string]string
	// Import builds the toolchain's store root (see the package doc for the contract).
	Import func(ctx context.Context, env *Env) (cid.Cid, error)
}

// Env is what an importer gets.
type Env struct {
	Store   *storefs.Store
	Builder *builder.Builder
	// Source overrides where the importer reads from ("" = its default); importer-specific.
	Source string
	// Options are the --option key=value settings (checked against Toolchain.Options).
	Options map[string]string
	// Log receives progress lines (never nil).
	Log io.Writer
}

// TempDir is a scratch directory for staging a tree; removed with builder.RemoveAll.
func (e *Env) TempDir(name string) (string, error) { return e.Builder.TempDir(name) }

// AddTree canonicalises the modes of the tree at dir (as a build output's), adds it to the
// store with modes preserved, and records the store paths it refers to at run time (refs; nil
// for a self-contained toolchain, so no build has to scan it). It returns the root CID.
func (e *Env) AddTree(ctx context.Context, dir string, refs []cid.Cid) (cid.Cid, error) {
	if err := builder.Canonicalise(dir); err != nil {
		return cid.Undef, err
	}
	c, err := e.Store.AddPath(ctx, dir, storefs.AddOptions{PreserveMode: true})
	if err != nil {
		return cid.Undef, fmt.Errorf("add %s: %w", dir, err)
	}
	if err := e.Builder.RecordRefs(c, refs); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

var registry struct {
	sync.Mutex
	m map[string]Toolchain
}

// Register adds a toolchain; a second one with the same name is a programming error.
func Register(t Toolchain) {
	registry.Lock()
	defer registry.Unlock()
	if registry.m == nil {
		registry.m = map[string]Toolchain{}
	}
	if _, dup := registry.m[t.Name]; dup || t.Name == "" || t.Import == nil || t.Name == "bootstrap" || t.Name == "system" {
		panic(fmt.Sprintf("toolchain: bad or duplicate registration %q", t.Name))
	}
	registry.m[t.Name] = t
}

// Lookup returns a registered toolchain.
func Lookup(name string) (Toolchain, error) {
	registry.Lock()
	defer registry.Unlock()
	t, ok := registry.m[name]
	if !ok {
		return Toolchain{}, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(namesLocked(), ", "))
	}
	return t, nil
}

// Names lists the registered toolchains in name order.
func Names() []string {
	registry.Lock()
	defer registry.Unlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry.m))
	for n := range registry.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CheckOptions rejects a key the toolchain does not document.
func (t Toolchain) CheckOptions(opts map[string]string) error {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := t.Options[k]; !ok {
			known := make([]string, 0, len(t.Options))
			for o := range t.Options {
				known = append(known, o)
			}
			sort.Strings(known)
			return fmt.Errorf("%w %q for %s (known: %s)", ErrUnknownOption, k, t.Name, strings.Join(known, ", "))
		}
	}
	return nil
}

// Import imports the named toolchain into env's store, pins it for user (program
// "toolchains"; no pin if user is empty) and records it for @NAME@ in templates.
func Import(ctx context.Context, name, user string, env *Env) (cid.Cid, error) {
	t, err := Lookup(name)
	if err != nil {
		return cid.Undef, err
	}
	if err := t.CheckOptions(env.Options); err != nil {
		return cid.Undef, err
	}
	if env.Log == nil {
		env.Log = io.Discard
	}
	c, err := t.Import(ctx, env)
	if err != nil {
		return cid.Undef, fmt.Errorf("toolchain %s: %w", name, err)
	}
	if user != "" {
		if err := env.Store.Pin(user, "toolchains", c); err != nil {
			return cid.Undef, fmt.Errorf("toolchain %s: pin %s: %w", name, c, err)
		}
	}
	if err := env.Builder.RecordToolchain(name, c); err != nil {
		return cid.Undef, fmt.Errorf("toolchain %s: %w", name, err)
	}
	return c, nil
}
