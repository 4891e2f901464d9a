package debian

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/deb"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
)

// Debian describes a toolchain made of pinned Debian packages (see the package doc).
type Debian struct {
	Name     string   // toolchain name (bootstrap --toolchain NAME, @NAME@ in templates)
	Packages []string // names in debian.lock
	// Interpreter is the tree's dynamic loader and LibPath its library directories (relative
	// to the tree): every ELF executable gets $out/Interpreter and the rpath $out/LibPath.
	Interpreter string
	LibPath     []string
	// Trim lists directories of the tree that builds never read (documentation, manuals,
	// translations); they are left out of the store path.
	Trim []string
	// Post is shell run (busybox sh, set -e) after relocation, with $out, $bb (the busybox
	// store path) and the variables above set; it writes wrappers and the like.
	Post string
}

// Where Debian 12's amd64 packages put the dynamic loader and the libraries (merged /usr): the
// Interpreter and LibPath of every toolchain here.
const Amd64Interpreter = "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"

// Amd64LibPath is the LibPath of every toolchain here (see Amd64Interpreter).
func Amd64LibPath() []string { return []string{"usr/lib/x86_64-linux-gnu"} }

// DocTrim is the Trim of documentation, manuals and translations every toolchain leaves out,
// with extra paths of the tree appended.
func DocTrim(extra ...string) []string {
	return append([]string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
		"usr/share/lintian", "usr/share/bug", "usr/share/gdb"}, extra...)
}

// Register makes t the toolchain t.Name of `buildchaind bootstrap --toolchain` (node/toolchain),
// described by short; the toolchain packages call it from init.
func (t Debian) Register(short string) {
	toolchain.Register(toolchain.Toolchain{Name: t.Name, Short: short, Import: t.Import})
}

// PatchelfPackage is the package in debian.lock whose patchelf relocates the toolchains, and
// BusyboxPackage the static busybox that runs the unpack script and the wrappers.
const (
	PatchelfPackage = "patchelf"
	BusyboxPackage  = "busybox-static"
)

// Packages returns every package the toolchain needs, itself and the relocation tools, from
// the lock.
func (t Debian) packages() ([]deb.Package, error) {
	lock, err := DebianLock()
	if err != nil {
		return nil, err
	}
	names := append([]string{PatchelfPackage}, t.Packages...)
	return lock.Select(names)
}

// Fetch makes sure every .deb of the toolchain (and busybox-static) is in cache and matches
// the lock (what `make deps` does ahead of the tests).
func (t Debian) Fetch(ctx context.Context, cache *deb.Cache) error {
	pkgs, err := t.packages()
	if err != nil {
		return err
	}
	lock, _ := DebianLock()
	bb, err := lock.Select([]string{BusyboxPackage})
	if err != nil {
		return err
	}
	_, err = cache.Fetch(ctx, append(pkgs, bb...))
	return err
}

// Import makes the toolchain's store path from the .debs in env.Source (default: the cache
// DefaultDebCache, filled with apt-get download when a .deb is missing) and returns its CID.
// Every .deb is checked against the lock and extracted before anything is added to the store,
// so bad input (a .deb that differs from the lock, or is truncated) leaves the store unchanged.
func (t Debian) Import(ctx context.Context, env *toolchain.Env) (cid.Cid, error) {
	log := env.Log
	if log == nil {
		log = io.Discard
	}
	pkgs, err := t.packages()
	if err != nil {
		return cid.Undef, err
	}
	lock, _ := DebianLock()
	bbPkg, err := lock.Select([]string{BusyboxPackage})
	if err != nil {
		return cid.Undef, err
	}
	cache := &deb.Cache{Dir: env.Source, Log: log}
	if cache.Dir == "" {
		cache.Dir = DefaultDebCache()
	}
	start := time.Now()
	phase := func(what string) {
		fmt.Fprintf(log, "toolchain %s: %s (%d ms)\n", t.Name, what, time.Since(start).Milliseconds())
		start = time.Now()
	}
	paths, err := cache.Fetch(ctx, append(pkgs, bbPkg...))
	if err != nil {
		return cid.Undef, err
	}
	phase(fmt.Sprintf("%d .debs checked against the lock", len(paths)))
	work, err := env.TempDir("toolchain-" + t.Name)
	if err != nil {
		return cid.Undef, err
	}
	defer builder.RemoveAll(work)

	bbTree := filepath.Join(work, "busybox")
	if err := deb.Extract(paths[len(paths)-1], bbTree); err != nil {
		return cid.Undef, err
	}
	tree := filepath.Join(work, t.Name)
	if err := deb.ExtractAll(paths[:len(paths)-1], tree); err != nil {
		return cid.Undef, err
	}
	if err := deb.MergeLinks(tree); err != nil {
		return cid.Undef, err
	}
	for _, d := range t.Trim {
		if err := os.RemoveAll(filepath.Join(tree, d)); err != nil {
			return cid.Undef, err
		}
	}
	elfs, err := elfExecutables(tree)
	if err != nil {
		return cid.Undef, err
	}
	phase(fmt.Sprintf("extracted, %d ELF executables to relocate", len(elfs)))

	// The unpack script and the wrappers run on the pinned busybox (the bootstrap tools,
	// pinned for the user as `bootstrap` does).
	bb, err := env.Builder.ImportBusybox(ctx, filepath.Join(bbTree, "usr", "bin", "busybox"), storefs.CurrentUser())
	if err != nil {
		return cid.Undef, err
	}
	// Relative symlinks and no store paths: no references.
	raw, err := env.AddTree(ctx, tree, nil)
	if err != nil {
		return cid.Undef, err
	}
	defer env.Store.ReleaseTempPin(raw)
	phase("tree added to the store as " + raw.String())
	drv, err := env.Builder.AddDerivation(t.unpackDerivation(bb, raw, elfs))
	if err != nil {
		return cid.Undef, err
	}
	res, err := env.Builder.Build(ctx, drv, builder.Options{})
	if err != nil {
		return cid.Undef, fmt.Errorf("relocate: %w", err)
	}
	phase("relocated by " + drv.String())
	return res.Output, nil
}

// unpackScript copies the tree to $out and points every ELF executable's interpreter and
// rpath into $out (DT_RPATH, which, unlike DT_RUNPATH, also serves the libraries they load),
// running the pinned patchelf through the tree's own loader.
const unpackScript = `set -e
export PATH="$bb/bin"
cp -dR "$raw" "$out"
chmod -R u+w "$out"
rpath=
for d in $LIBPATH; do rpath="$rpath${rpath:+:}$out/$d"; done
rawlib=
for d in $LIBPATH; do rawlib="$rawlib${rawlib:+:}$raw/$d"; done
for f in $ELF_FILES; do
	"$raw/$INTERPRETER" --library-path "$rawlib" "$raw/usr/bin/patchelf" \
		--set-interpreter "$out/$INTERPRETER" --set-rpath "$rpath" --force-rpath "$out/$f"
done
eval "$POST"
`

func (t Debian) unpackDerivation(bb, raw cid.Cid, elfs []string) *derivation.Derivation {
	return &derivation.Derivation{
		Name:    t.Name + "-toolchain",
		Builder: derivation.StorePrefix + bb.String() + "/bin/sh",
		Args:    []string{"-c", unpackScript},
		Env: map[string]string{
			"bb":          derivation.StorePrefix + bb.String(),
			"raw":         derivation.StorePrefix + raw.String(),
			"INTERPRETER": t.Interpreter,
			"LIBPATH":     strings.Join(t.LibPath, " "),
			"ELF_FILES":   strings.Join(elfs, " "),
			"POST":        t.Post,
		},
		Inputs:  []derivation.Input{{CID: bb}, {CID: raw}},
		Outputs: []string{"out"},
		System:  builder.HostSystem(),
	}
}

// elfExecutables lists (sorted, relative) the dynamically linked executables of tree: ELF files
// with an interpreter that are not shared libraries (which glibc's libc.so.6 and ld.so, runnable
// themselves, also have).
func elfExecutables(tree string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(tree, func(p string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return err
		}
		if strings.Contains(de.Name(), ".so") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		var magic [4]byte
		if _, err := io.ReadFull(f, magic[:]); err != nil || !bytes.Equal(magic[:], []byte(elf.ELFMAG)) {
			return nil
		}
		ef, err := elf.NewFile(f)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		defer ef.Close()
		for _, prog := range ef.Progs {
			if prog.Type == elf.PT_INTERP {
				rel, _ := filepath.Rel(tree, p)
				out = append(out, filepath.ToSlash(rel))
				break
			}
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
