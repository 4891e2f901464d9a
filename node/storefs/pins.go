package storefs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/ipfs/go-cid"
)

// CurrentUser names the pin owner for commands run by this process
// (pins/per-user/{user}/...): the login name, else $USER, else the numeric uid.
func CurrentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return strconv.Itoa(os.Getuid())
}

func flockRetry(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// lockFile takes the GC lock (pins/lock) shared or exclusive. flock locks
// belong to the open file description, so they exclude each other between
// goroutines of one process as well as between processes.
//
// flock does not queue writers, so a steady stream of adders could starve
// GC. A gate (pins/lock.gate) fixes that: everyone passes through it on the
// way in (adders shared, GC exclusive), and GC holds it while waiting for
// the main lock, so new adders queue behind a waiting GC while running ones
// finish.
func (s *Store) lockFile(how int) (func(), error) {
	gate, err := os.OpenFile(filepath.Join(s.pinsDir, "lock.gate"), os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open gc lock gate: %w", err)
	}
	defer gate.Close() // closing drops the gate lock
	if err := flockRetry(gate, how); err != nil {
		return nil, fmt.Errorf("take gc lock gate: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.pinsDir, "lock"), os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open gc lock: %w", err)
	}
	if err := flockRetry(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("take gc lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// WithAddLock runs fn holding the GC lock shared: blocks written by fn
// cannot be swept until fn returns. Pin what fn adds before it returns.
func (s *Store) WithAddLock(fn func() error) error {
	unlock, err := s.lockFile(syscall.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

func (s *Store) withAddLockUnless(held bool, fn func() error) error {
	if held {
		return fn()
	}
	return s.WithAddLock(fn)
}

func validName(kind, n string) error {
	if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") {
		return fmt.Errorf("invalid %s name %q", kind, n)
	}
	return nil
}

func (s *Store) tempDir(pid int) string {
	return filepath.Join(s.pinsDir, "temp", strconv.Itoa(pid))
}

// TempPin pins c for the lifetime of this process (pins/temp/{pid}/{cid}).
// Temp pins of one Store are counted: the pin file is shared by the whole
// process, so it goes only when every TempPin of c has been matched by a
// ReleaseTempPin (two builds reading one input, or producing one output,
// never drop each other's pin). Open a store root once per process.
func (s *Store) TempPin(c cid.Cid) error {
	s.temp.mu.Lock()
	defer s.temp.mu.Unlock()
	if s.temp.n[c] == 0 {
		if err := s.TempPinFor(os.Getpid(), c); err != nil {
			return err
		}
	}
	if s.temp.n == nil {
		s.temp.n = map[cid.Cid]int{}
	}
	s.temp.n[c]++
	return nil
}

// TempPinFor pins c for as long as process pid lives (e.g. a build's
// sandbox process). It is not counted: one ReleaseTempPins(pid) drops it.
func (s *Store) TempPinFor(pid int, c cid.Cid) error {
	if !c.Defined() {
		return errors.New("temp pin: undefined CID")
	}
	d := s.tempDir(pid)
	for {
		// pins/temp exists (Open made it); the pid directory may come and
		// go under concurrent Release calls, hence Mkdir and a retry.
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("temp pin %s: %w", c, err)
		}
		f, err := os.OpenFile(filepath.Join(d, c.String()), os.O_CREATE|os.O_WRONLY, 0o644)
		if errors.Is(err, fs.ErrNotExist) {
			continue // ReleaseTempPin removed the then-empty directory
		}
		if err != nil {
			return fmt.Errorf("temp pin %s: %w", c, err)
		}
		return f.Close()
	}
}

// ReleaseTempPin drops one of this process's temp pins of c (see TempPin);
// the pin file goes with the last one. It takes no lock (so it is safe
// inside WithAddLock): GC lists temp pins before user pins, so the
// hand-over "add (temp pin), Pin, ReleaseTempPin" is always seen in one of
// the two listings.
func (s *Store) ReleaseTempPin(c cid.Cid) error {
	s.temp.mu.Lock()
	defer s.temp.mu.Unlock()
	if n := s.temp.n[c]; n > 1 {
		s.temp.n[c] = n - 1
		return nil
	}
	delete(s.temp.n, c)
	d := s.tempDir(os.Getpid())
	err := os.Remove(filepath.Join(d, c.String()))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release temp pin %s: %w", c, err)
	}
	_ = os.Remove(d) // only succeeds when no temp pin is left
	return nil
}

// ReleaseTempPins drops every temp pin of process pid.
func (s *Store) ReleaseTempPins(pid int) error {
	if pid == os.Getpid() {
		s.temp.mu.Lock()
		defer s.temp.mu.Unlock()
		s.temp.n = nil
	}
	if err := os.RemoveAll(s.tempDir(pid)); err != nil {
		return fmt.Errorf("release temp pins of %d: %w", pid, err)
	}
	return nil
}

func (s *Store) pinDir(user, prog string) (string, error) {
	if err := validName("user", user); err != nil {
		return "", err
	}
	if err := validName("program", prog); err != nil {
		return "", err
	}
	return filepath.Join(s.pinsDir, "per-user", user, prog), nil
}

// Pin makes c a GC root: pins/per-user/{user}/{prog}/{cid} → store/{cid}.
// The root block must be in the store.
func (s *Store) Pin(user, prog string, c cid.Cid) error {
	if !c.Defined() {
		return errors.New("pin: undefined CID")
	}
	d, err := s.pinDir(user, prog)
	if err != nil {
		return fmt.Errorf("pin %s: %w", c, err)
	}
	if ok, err := s.HasBlock(c); err != nil {
		return fmt.Errorf("pin %s: %w", c, err)
	} else if !ok {
		return fmt.Errorf("pin %s: %w", c, ErrNotFound)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("pin %s: %w", c, err)
	}
	link := filepath.Join(d, c.String())
	err = os.Symlink(filepath.Join(s.MountDir(), c.String()), link)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("pin %s: %w", c, err)
	}
	return nil
}

// Unpin removes the pin of c by user/prog.
func (s *Store) Unpin(user, prog string, c cid.Cid) error {
	d, err := s.pinDir(user, prog)
	if err != nil {
		return fmt.Errorf("unpin %s: %w", c, err)
	}
	if err := os.Remove(filepath.Join(d, c.String())); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("unpin %s: not pinned by %s/%s", c, user, prog)
		}
		return fmt.Errorf("unpin %s: %w", c, err)
	}
	return nil
}

// AutoPin registers userPath (e.g. ./result or a profile generation), a
// symlink into the store, as a GC root for as long as it keeps pointing
// there (Nix's gcroots/auto): pins/per-user/{user}/{prog}/auto/{hash} →
// userPath.
func (s *Store) AutoPin(user, prog, userPath string) error {
	d, err := s.pinDir(user, prog)
	if err != nil {
		return fmt.Errorf("auto pin %q: %w", userPath, err)
	}
	abs, err := filepath.Abs(userPath)
	if err != nil {
		return fmt.Errorf("auto pin %q: %w", userPath, err)
	}
	if _, ok := s.autoTarget(abs); !ok {
		return fmt.Errorf("auto pin %q: not a symlink into %s", userPath, s.MountDir())
	}
	h := sha256.Sum256([]byte(abs))
	d = filepath.Join(d, "auto")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("auto pin %q: %w", userPath, err)
	}
	link := filepath.Join(d, hex.EncodeToString(h[:16]))
	_ = os.Remove(link)
	if err := os.Symlink(abs, link); err != nil {
		return fmt.Errorf("auto pin %q: %w", userPath, err)
	}
	return nil
}

// autoTarget reads the CID that user path p links to: p must be a symlink
// whose target contains a "/store/{cid}" component (or "/ipfs/store/{cid}").
func (s *Store) autoTarget(p string) (cid.Cid, bool) {
	t, err := os.Readlink(p)
	if err != nil {
		return cid.Undef, false
	}
	parts := strings.Split(filepath.Clean(t), string(filepath.Separator))
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "store" {
			if c, err := cid.Decode(parts[i+1]); err == nil {
				return c, true
			}
		}
	}
	return cid.Undef, false
}

// PinInfo describes one pin.
type PinInfo struct {
	Kind string // "user", "auto" or "temp"
	User string // user (empty for temp)
	Prog string // program (for temp: the pid)
	CID  cid.Cid
	Path string // the pin's file under pins/
}

// ListPins returns all pins, sorted by path. Dangling auto pins and temp
// pins of dead processes are listed with an undefined CID / as found; GC
// removes them.
func (s *Store) ListPins() ([]PinInfo, error) {
	var out []PinInfo
	base := filepath.Join(s.pinsDir, "per-user")
	users, err := os.ReadDir(base)
	if err != nil {
		return nil, fmt.Errorf("list pins: %w", err)
	}
	for _, u := range users {
		progs, err := os.ReadDir(filepath.Join(base, u.Name()))
		if err != nil {
			continue
		}
		for _, p := range progs {
			dir := filepath.Join(base, u.Name(), p.Name())
			ents, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if e.Name() == "auto" && e.IsDir() {
					autos, _ := os.ReadDir(filepath.Join(dir, "auto"))
					for _, a := range autos {
						ap := filepath.Join(dir, "auto", a.Name())
						info := PinInfo{Kind: "auto", User: u.Name(), Prog: p.Name(), Path: ap}
						if t, err := os.Readlink(ap); err == nil {
							if c, ok := s.autoTarget(t); ok {
								info.CID = c
							}
						}
						out = append(out, info)
					}
					continue
				}
				c, err := cid.Decode(e.Name())
				if err != nil {
					continue
				}
				out = append(out, PinInfo{Kind: "user", User: u.Name(), Prog: p.Name(), CID: c, Path: filepath.Join(dir, e.Name())})
			}
		}
	}
	tbase := filepath.Join(s.pinsDir, "temp")
	pids, _ := os.ReadDir(tbase)
	for _, p := range pids {
		ents, _ := os.ReadDir(filepath.Join(tbase, p.Name()))
		for _, e := range ents {
			c, err := cid.Decode(e.Name())
			if err != nil {
				continue
			}
			out = append(out, PinInfo{Kind: "temp", Prog: p.Name(), CID: c, Path: filepath.Join(tbase, p.Name(), e.Name())})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
