package profile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/storefs"
)

// Store is what profiles need from node/storefs.
type Store interface {
	List(ctx context.Context, root cid.Cid, p string) ([]storefs.Entry, error)
	Stat(ctx context.Context, root cid.Cid, p string) (storefs.Entry, error)
	Pin(user, prog string, c cid.Cid) error
	Unpin(user, prog string, c cid.Cid) error
}

// Errors.
var (
	ErrNoGeneration = errors.New("no such generation")
	ErrCollision    = errors.New("two outputs provide the same file")
	ErrNoRollback   = errors.New("no earlier generation to roll back to")
)

// Profile is one user's profile.
type Profile struct {
	store    Store
	user     string
	dir      string // profiles/per-user/{user}
	storeDir string // where store paths are visible on this host, e.g. $BUILDCHAIN_HOME/ipfs/store or /ipfs/store
}

// Generation is one entry of List.
type Generation struct {
	ID      int
	Outputs []cid.Cid
	Created time.Time
	Current bool
	Path    string
}

type manifest struct {
	Outputs []string  `json:"outputs"`
	Created time.Time `json:"created"`
}

// Open opens (creating) the profile of user under profilesRoot ($BUILDCHAIN_HOME/profiles).
// Symlinks in generations point into storeDir.
func Open(store Store, profilesRoot, user, storeDir string) (*Profile, error) {
	if user == "" || strings.ContainsAny(user, "/\x00") || user == "." || user == ".." {
		return nil, fmt.Errorf("profile: invalid user name %q", user)
	}
	dir := filepath.Join(profilesRoot, "per-user", user)
	if err := os.MkdirAll(filepath.Join(dir, "generations"), 0o755); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return &Profile{store: store, user: user, dir: dir, storeDir: storeDir}, nil
}

// CurrentLink is profiles/per-user/{user}/current.
func (p *Profile) CurrentLink() string { return filepath.Join(p.dir, "current") }

func (p *Profile) genDir(id int) string {
	return filepath.Join(p.dir, "generations", strconv.Itoa(id))
}

func (p *Profile) manifestPath(id int) string { return p.genDir(id) + ".json" }

func pinProg(id int) string { return "profile-gen-" + strconv.Itoa(id) }

// Current returns the active generation id, 0 when none.
func (p *Profile) Current() (int, error) {
	t, err := os.Readlink(p.CurrentLink())
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(filepath.Base(t))
}

func (p *Profile) ids() ([]int, error) {
	ents, err := os.ReadDir(filepath.Join(p.dir, "generations"))
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, e := range ents {
		if id, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".json")); err == nil && strings.HasSuffix(e.Name(), ".json") {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

func (p *Profile) readManifest(id int) (manifest, []cid.Cid, error) {
	var m manifest
	raw, err := os.ReadFile(p.manifestPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil, fmt.Errorf("%w: %d", ErrNoGeneration, id)
	}
	if err != nil {
		return m, nil, err
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, nil, fmt.Errorf("generation %d manifest: %w", id, err)
	}
	var out []cid.Cid
	for _, s := range m.Outputs {
		c, err := cid.Decode(s)
		if err != nil {
			return m, nil, fmt.Errorf("generation %d manifest: %w", id, err)
		}
		out = append(out, c)
	}
	return m, out, nil
}

// List returns every generation, oldest first.
func (p *Profile) List() ([]Generation, error) {
	ids, err := p.ids()
	if err != nil {
		return nil, err
	}
	cur, err := p.Current()
	if err != nil {
		return nil, err
	}
	var out []Generation
	for _, id := range ids {
		m, outs, err := p.readManifest(id)
		if err != nil {
			return nil, err
		}
		out = append(out, Generation{ID: id, Outputs: outs, Created: m.Created, Current: id == cur, Path: p.genDir(id)})
	}
	return out, nil
}

// Install creates a new generation holding the current generation's outputs plus outs, and
// switches to it. It returns the new generation's id.
func (p *Profile) Install(ctx context.Context, outs ...cid.Cid) (int, error) {
	cur, err := p.Current()
	if err != nil {
		return 0, err
	}
	var all []cid.Cid
	if cur != 0 {
		if _, all, err = p.readManifest(cur); err != nil {
			return 0, err
		}
	}
	for _, o := range outs {
		if !slices.ContainsFunc(all, o.Equals) {
			all = append(all, o)
		}
	}
	return p.create(ctx, all)
}

// Uninstall creates a new generation without outs and switches to it.
func (p *Profile) Uninstall(ctx context.Context, outs ...cid.Cid) (int, error) {
	cur, err := p.Current()
	if err != nil {
		return 0, err
	}
	_, all, err := p.readManifest(cur)
	if err != nil {
		return 0, err
	}
	keep := slices.DeleteFunc(all, func(a cid.Cid) bool { return slices.ContainsFunc(outs, a.Equals) })
	return p.create(ctx, keep)
}

func (p *Profile) create(ctx context.Context, outs []cid.Cid) (int, error) {
	ids, err := p.ids()
	if err != nil {
		return 0, err
	}
	id := 1
	if len(ids) > 0 {
		id = ids[len(ids)-1] + 1
	}
	// Pin first: once the generation exists, GC must already keep what it uses.
	for _, o := range outs {
		if err := p.store.Pin(p.user, pinProg(id), o); err != nil {
			return 0, fmt.Errorf("pin %s for generation %d: %w", o, id, err)
		}
	}
	tmp := p.genDir(id) + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return 0, err
	}
	owner := map[string]cid.Cid{}
	for _, o := range outs {
		if err := p.link(ctx, o, "", tmp, owner); err != nil {
			os.RemoveAll(tmp)
			p.unpinAll(id, outs)
			return 0, err
		}
	}
	strs := make([]string, len(outs))
	for i, o := range outs {
		strs[i] = o.String()
	}
	raw, err := json.Marshal(manifest{Outputs: strs, Created: time.Now().UTC()})
	if err != nil {
		return 0, err
	}
	if err := atomicfile.WriteFile(p.manifestPath(id), raw, 0o644); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, p.genDir(id)); err != nil {
		return 0, err
	}
	return id, p.Switch(id)
}

func (p *Profile) unpinAll(id int, outs []cid.Cid) {
	for _, o := range outs {
		_ = p.store.Unpin(p.user, pinProg(id), o)
	}
}

// link adds output o's tree (at rel) to the forest at dst: directories are merged, every file
// and symlink becomes a symlink to its store path.
func (p *Profile) link(ctx context.Context, o cid.Cid, rel, dst string, owner map[string]cid.Cid) error {
	if rel == "" {
		e, err := p.store.Stat(ctx, o, "")
		if err != nil {
			return fmt.Errorf("install %s: %w", o, err)
		}
		if e.Kind != storefs.KindDir {
			return fmt.Errorf("install %s: output is a %s; only directory outputs can be installed", o, e.Kind)
		}
	}
	ents, err := p.store.List(ctx, o, rel)
	if err != nil {
		return fmt.Errorf("install %s: %w", o, err)
	}
	for _, e := range ents {
		r := path.Join(rel, e.Name)
		target := filepath.Join(dst, filepath.FromSlash(r))
		if e.Kind == storefs.KindDir {
			if fi, err := os.Lstat(target); err == nil && !fi.IsDir() {
				return fmt.Errorf("%w: %s is a directory in %s and a file in %s", ErrCollision, r, o, owner[r])
			}
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			owner[r] = o
			if err := p.link(ctx, o, r, dst, owner); err != nil {
				return err
			}
			continue
		}
		if prev, ok := owner[r]; ok {
			return fmt.Errorf("%w: %s in %s and %s", ErrCollision, r, prev, o)
		}
		owner[r] = o
		if err := os.Symlink(filepath.Join(p.storeDir, o.String(), filepath.FromSlash(r)), target); err != nil {
			return err
		}
	}
	return nil
}

// Switch makes generation id current, atomically (a new symlink renamed over current).
func (p *Profile) Switch(id int) error {
	if _, err := os.Stat(p.manifestPath(id)); err != nil {
		return fmt.Errorf("%w: %d", ErrNoGeneration, id)
	}
	if err := atomicfile.Symlink(filepath.Join("generations", strconv.Itoa(id)), p.CurrentLink()); err != nil {
		return fmt.Errorf("switch to generation %d: %w", id, err)
	}
	return nil
}

// Rollback switches to the newest generation older than the current one.
func (p *Profile) Rollback() (int, error) {
	cur, err := p.Current()
	if err != nil {
		return 0, err
	}
	ids, err := p.ids()
	if err != nil {
		return 0, err
	}
	prev := 0
	for _, id := range ids {
		if id < cur {
			prev = id
		}
	}
	if prev == 0 {
		return 0, fmt.Errorf("%w (current is %d)", ErrNoRollback, cur)
	}
	return prev, p.Switch(prev)
}

// Delete removes a generation that is not current and drops its GC roots.
func (p *Profile) Delete(id int) error {
	cur, err := p.Current()
	if err != nil {
		return err
	}
	if id == cur {
		return fmt.Errorf("generation %d is current; switch away first", id)
	}
	_, outs, err := p.readManifest(id)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(p.genDir(id)); err != nil {
		return err
	}
	if err := os.Remove(p.manifestPath(id)); err != nil {
		return err
	}
	p.unpinAll(id, outs)
	return nil
}

// HomeLinkName is the user's link to the current generation, in their home directory, so
// ~/.buildchain-profile/bin is the one directory to put on PATH (as ~/.nix-profile/bin).
const HomeLinkName = ".buildchain-profile"

// LinkUserHome points ~/.buildchain-profile at current and returns the link's path.
func (p *Profile) LinkUserHome() (string, error) {
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("link %s: %w", HomeLinkName, err)
	}
	link := filepath.Join(h, HomeLinkName)
	return link, p.LinkHome(link)
}

// LinkHome points link (normally ~/.buildchain-profile) at current, replacing an old link.
func (p *Profile) LinkHome(link string) error {
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s exists and is not a symlink; not replacing it", link)
	}
	return atomicfile.Symlink(p.CurrentLink(), link)
}
