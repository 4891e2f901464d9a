// Package importer turns a Nix .drv and its input closure into buildchain derivations that
// build in Nix's layout (derivation.NixLayout, docs/NIX.md): one derivation per .drv, input
// derivations as {drv, output} inputs, input sources added to our store from their NAR dump
// (checked against their store path first), and the Nix path of every output recorded in the
// derivation. It also keeps the local index from Nix store paths to those derivations that
// the binary cache (node/nix/nixcache) answers from.
package importer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/nix/drv"
	"github.com/buildchain/buildchain/node/nix/nar"
	"github.com/buildchain/buildchain/node/nix/storepath"
	"github.com/buildchain/buildchain/node/storefs"
)

// Errors of an import, besides drv's (ErrSyntax, ErrInvalid, ErrUnsupported).
var (
	// ErrSource: an input source is missing or its contents do not match its store path.
	ErrSource = errors.New("bad input source")
	// ErrBuilder: the builder is not a program we can run (a Nix builtin, or outside the
	// derivation's inputs).
	ErrBuilder = errors.New("unsupported builder")
)

// Imported is one .drv made into a buildchain derivation.
type Imported struct {
	DrvPath    string  // the .drv's store path
	Out        string  // its output's Nix store path
	Derivation cid.Cid // the buildchain derivation (unresolved: inputs may be {drv, output})
	// closure maps the Nix path of every store path a build of it may see to its input key.
	closure map[string]string
	hash    [sha256.Size]byte // HashModulo(false), for the derivations that use this one
}

// Importer imports .drv files from a Nix store directory on disk into a store. Not safe for
// concurrent use.
type Importer struct {
	store *storefs.Store
	// dir is where the store's paths are on disk: /nix/store, or ROOT/nix/store for a Nix
	// store with another root (nix --store ROOT).
	dir     string
	index   *Index
	log     io.Writer
	done    map[string]*Imported
	sources map[string]cid.Cid
	// Pin keeps imported derivations and sources from GC (user, program); empty: no pins.
	PinUser, PinProg string
}

// New returns an importer reading store paths from dir (the on-disk /nix/store).
func New(s *storefs.Store, dir string, index *Index, log io.Writer) *Importer {
	if log == nil {
		log = io.Discard
	}
	return &Importer{store: s, dir: dir, index: index, log: log, done: map[string]*Imported{}, sources: map[string]cid.Cid{}}
}

// onDisk is where the store path p is on this machine.
func (im *Importer) onDisk(p string) string { return filepath.Join(im.dir, storepath.Base(p)) }

// Import imports the .drv at drvPath (a /nix/store path) and, first, its input closure. It
// returns every derivation imported, dependencies before the ones that use them; the last is
// drvPath's.
func (im *Importer) Import(ctx context.Context, drvPath string) ([]*Imported, error) {
	var order []*Imported
	if _, err := im.importDrv(ctx, drvPath, &order, nil); err != nil {
		return nil, err
	}
	return order, nil
}

func (im *Importer) importDrv(ctx context.Context, drvPath string, order *[]*Imported, stack []string) (*Imported, error) {
	if r, ok := im.done[drvPath]; ok {
		return r, nil
	}
	for _, s := range stack {
		if s == drvPath {
			return nil, fmt.Errorf("%w: derivation cycle through %s", drv.ErrInvalid, drvPath)
		}
	}
	stack = append(stack, drvPath)
	if err := storepath.Validate(drvPath); err != nil || !strings.HasSuffix(drvPath, ".drv") {
		return nil, fmt.Errorf("%w: %q is not the store path of a .drv (%v)", drv.ErrInvalid, drvPath, err)
	}
	data, err := readLimited(im.onDisk(drvPath), drv.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", drvPath, err)
	}
	d, err := drv.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", drvPath, err)
	}
	if got := d.Path(); got != drvPath {
		return nil, fmt.Errorf("%w: %s hashes to %s: the file is not the derivation its name says", drv.ErrInvalid, drvPath, got)
	}
	if err := d.CheckInputAddressed(); err != nil {
		return nil, err
	}
	if d.FixedOutput() {
		return nil, fmt.Errorf("%w: %s is a fixed-output derivation (a fetcher); realise it with nix and use its output as a source", drv.ErrUnsupported, drvPath)
	}
	if strings.HasPrefix(d.Builder, "builtin:") {
		return nil, fmt.Errorf("%w: %s uses the Nix builtin %q, which runs inside Nix, not in a sandbox", ErrBuilder, drvPath, d.Builder)
	}
	i := sort.SearchStrings(derivation.Systems, d.System)
	if i == len(derivation.Systems) || derivation.Systems[i] != d.System {
		return nil, fmt.Errorf("%w: %s is for system %q (known: %s)", drv.ErrUnsupported, drvPath, d.System, strings.Join(derivation.Systems, ", "))
	}

	closure := map[string]string{}
	for _, in := range d.InputDrvs {
		sub, err := im.importDrv(ctx, in.Path, order, stack)
		if err != nil {
			return nil, fmt.Errorf("input of %s: %w", drvPath, err)
		}
		for p, k := range sub.closure {
			closure[p] = k
		}
		closure[sub.Out] = derivation.Input{Drv: sub.Derivation, Output: "out"}.String()
	}
	for _, src := range d.InputSrcs {
		c, err := im.importSource(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("input of %s: %w", drvPath, err)
		}
		closure[src] = c.String()
	}
	if err := d.CheckOutputPaths(func(p string) ([sha256.Size]byte, error) { return im.done[p].hash, nil }); err != nil {
		return nil, fmt.Errorf("%s: %w", drvPath, err)
	}
	hash, err := d.HashModulo(false, func(p string) ([sha256.Size]byte, error) { return im.done[p].hash, nil })
	if err != nil {
		return nil, err
	}

	bd := &derivation.Derivation{
		Args:    append([]string{}, d.Args...),
		Builder: d.Builder,
		Env:     map[string]string{},
		Name:    d.Name(),
		Outputs: []string{"out"},
		System:  d.System,
		Nix:     &derivation.NixLayout{DrvPath: drvPath, Out: d.Outputs[0].Path, Paths: closure},
	}
	for _, e := range d.Env {
		bd.Env[e.Name] = e.Value
	}
	keys := map[string]bool{}
	for _, k := range closure {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		in, err := parseInputKey(k)
		if err != nil {
			return nil, err
		}
		bd.Inputs = append(bd.Inputs, in)
	}
	block, c, err := bd.Block()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", drvPath, err)
	}
	if err := im.store.PutBlock(c, block); err != nil {
		return nil, err
	}
	if err := im.pin(c); err != nil {
		return nil, err
	}
	r := &Imported{DrvPath: drvPath, Out: bd.Nix.Out, Derivation: c, closure: closure, hash: hash}
	if im.index != nil {
		if err := im.index.Put(Entry{Path: r.Out, DrvPath: drvPath, Derivation: c.String()}); err != nil {
			return nil, err
		}
	}
	im.done[drvPath] = r
	*order = append(*order, r)
	fmt.Fprintf(im.log, "imported %s -> %s (%s)\n", drvPath, c, r.Out)
	return r, nil
}

func parseInputKey(k string) (derivation.Input, error) {
	if d, out, ok := strings.Cut(k, "!"); ok {
		c, err := cid.Decode(d)
		return derivation.Input{Drv: c, Output: out}, err
	}
	c, err := cid.Decode(k)
	return derivation.Input{CID: c}, err
}

func (im *Importer) pin(c cid.Cid) error {
	if im.PinUser == "" {
		return nil
	}
	return im.store.Pin(im.PinUser, im.PinProg, c)
}

// importSource adds an input source to the store from its NAR dump, after checking that the
// NAR hashes to the source's store path (a path added from a directory or file without
// references, or a text file without references). A source we cannot check (one with
// references) is refused rather than trusted.
func (im *Importer) importSource(ctx context.Context, p string) (cid.Cid, error) {
	if c, ok := im.sources[p]; ok {
		return c, nil
	}
	disk := im.onDisk(p)
	if _, err := os.Lstat(disk); err != nil {
		return cid.Undef, fmt.Errorf("%w: %s: %v", ErrSource, p, err)
	}
	tmp, err := os.MkdirTemp(filepath.Join(im.store.Root(), "tmp"), fmt.Sprintf("%d-nix-source-", os.Getpid()))
	if err != nil {
		return cid.Undef, err
	}
	defer os.RemoveAll(tmp)
	dest := filepath.Join(tmp, "src")
	// The NAR streams through a hash into Restore: what lands in our store is exactly the NAR
	// that was checked, whatever changes on disk meanwhile.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(nar.DumpDir(pw, disk)) }()
	counter := nar.NewCounter()
	err = nar.Restore(io.TeeReader(pr, counter), dest)
	pr.Close()
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %s: %v", ErrSource, p, err)
	}
	sum, _ := counter.Sum()
	name := storepath.Name(p)
	ok := storepath.Source(name, sum, nil) == p
	if !ok {
		if data, err := os.ReadFile(dest); err == nil {
			ok = storepath.Text(name, data, nil) == p
		}
	}
	if !ok {
		return cid.Undef, fmt.Errorf("%w: %s does not hash to its path (changed on disk, or a source with references, which is not supported)", ErrSource, p)
	}
	c, err := im.store.AddPath(ctx, dest, storefs.AddOptions{PreserveMode: true})
	if err != nil {
		return cid.Undef, err
	}
	if err := im.pin(c); err != nil {
		return cid.Undef, err
	}
	if err := im.store.SetReferences(c, nil); err != nil {
		return cid.Undef, err
	}
	im.sources[p] = c
	fmt.Fprintf(im.log, "source %s -> %s\n", p, c)
	return c, nil
}

func readLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: larger than %d bytes", drv.ErrSyntax, limit)
	}
	return data, nil
}
