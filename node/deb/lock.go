package deb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

// Errors; each failure wraps one, so callers and tests tell them apart with errors.Is.
var (
	ErrLock      = errors.New("bad lock file")
	ErrNotLocked = errors.New("package not in the lock file")
	ErrChecksum  = errors.New(".deb does not match the lock file")
	ErrTruncated = errors.New("truncated .deb")
	ErrFormat    = errors.New("not a valid .deb")
	ErrConflict  = errors.New("packages conflict")
	ErrFetch     = errors.New("cannot download .deb")
)

// Package is one pinned .deb: exactly this name, version and architecture, with this size and
// sha256 (of the .deb file), as Debian's Packages index lists it.
type Package struct {
	Name, Version, Arch string
	Size                int64
	SHA256              string
}

// Filename is the name apt gives the .deb (the epoch colon escaped as %3a).
func (p Package) Filename() string {
	return p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_" + p.Arch + ".deb"
}

func (p Package) String() string { return p.Name + "=" + p.Version + " (" + p.Arch + ")" }

// Lock is a parsed lock file: packages by name.
type Lock map[string]Package

var (
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	verRe  = regexp.MustCompile(`^[0-9A-Za-z.+~:-]+$`)
	shaRe  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ParseLock reads a lock file: one package per line, "name version arch size sha256"; blank
// lines and lines starting with # are ignored. Every field is checked, so a hand edit that
// breaks one fails here, not in a download.
func ParseLock(data []byte) (Lock, error) {
	l := Lock{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			return nil, fmt.Errorf("%w: line %d: want \"name version arch size sha256\", got %q", ErrLock, n, line)
		}
		size, err := strconv.ParseInt(f[3], 10, 64)
		switch {
		case !nameRe.MatchString(f[0]):
			return nil, fmt.Errorf("%w: line %d: bad package name %q", ErrLock, n, f[0])
		case !verRe.MatchString(f[1]):
			return nil, fmt.Errorf("%w: line %d: bad version %q", ErrLock, n, f[1])
		case !nameRe.MatchString(f[2]):
			return nil, fmt.Errorf("%w: line %d: bad architecture %q", ErrLock, n, f[2])
		case err != nil || size <= 0:
			return nil, fmt.Errorf("%w: line %d: bad size %q", ErrLock, n, f[3])
		case !shaRe.MatchString(f[4]):
			return nil, fmt.Errorf("%w: line %d: bad sha256 %q", ErrLock, n, f[4])
		}
		if _, dup := l[f[0]]; dup {
			return nil, fmt.Errorf("%w: line %d: %s listed twice", ErrLock, n, f[0])
		}
		l[f[0]] = Package{Name: f[0], Version: f[1], Arch: f[2], Size: size, SHA256: f[4]}
	}
	return l, sc.Err()
}

// Select returns the named packages in name order; each must be in the lock.
func (l Lock) Select(names []string) ([]Package, error) {
	out := make([]Package, 0, len(names))
	for _, n := range names {
		p, ok := l[n]
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrNotLocked, n)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Format writes packages as lock file lines (name order), after a header comment.
func Format(header string, pkgs []Package) []byte {
	sorted := append([]Package(nil), pkgs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimSpace(header), "\n") {
		b.WriteString("# " + strings.TrimPrefix(line, "# ") + "\n")
	}
	for _, p := range sorted {
		fmt.Fprintf(&b, "%s %s %s %d %s\n", p.Name, p.Version, p.Arch, p.Size, p.SHA256)
	}
	return b.Bytes()
}

// Verify checks that the file at path is exactly p (size, then sha256).
func Verify(path string, p Package) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != p.Size || got != p.SHA256 {
		return fmt.Errorf("%w: %s: %s is %d bytes with sha256 %s, the lock says %d bytes with sha256 %s",
			ErrChecksum, p, path, n, got, p.Size, p.SHA256)
	}
	return nil
}

// Cache holds verified .debs in one directory ($BUILDCHAIN_HOME/debs), named as apt names them.
type Cache struct {
	Dir string
	// Download fetches one package into dir (default: `apt-get download name=version:arch`).
	Download func(ctx context.Context, p Package, dir string) error
	// Log receives one line per download (may be nil).
	Log io.Writer
}

// Path is where p lives in the cache.
func (c *Cache) Path(p Package) string { return filepath.Join(c.Dir, p.Filename()) }

// Fetch makes sure every package is in the cache and matches the lock, downloading what is
// missing; it returns their paths in the order given. A cached file that does not match is
// an error (not silently replaced: someone changed it), and so is a download that does not.
func (c *Cache) Fetch(ctx context.Context, pkgs []Package) ([]string, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	// Packages a killed fetch was copying in (internal/atomicfile's temporary files).
	if _, err := atomicfile.RemoveStaleIn(c.Dir); err != nil {
		return nil, err
	}
	paths := make([]string, len(pkgs))
	for i, p := range pkgs {
		dst := c.Path(p)
		paths[i] = dst
		if _, err := os.Stat(dst); err == nil {
			if err := Verify(dst, p); err != nil {
				return nil, fmt.Errorf("%w (remove it to download it again)", err)
			}
			continue
		}
		if err := c.download(ctx, p, dst); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

func (c *Cache) download(ctx context.Context, p Package, dst string) error {
	var rb [8]byte
	_, _ = rand.Read(rb[:])
	tmp := filepath.Join(c.Dir, ".download-"+hex.EncodeToString(rb[:]))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if c.Log != nil {
		fmt.Fprintf(c.Log, "downloading %s\n", p)
	}
	dl := c.Download
	if dl == nil {
		dl = AptDownload
	}
	if err := dl(ctx, p, tmp); err != nil {
		return err
	}
	got := filepath.Join(tmp, p.Filename())
	if err := Verify(got, p); err != nil {
		return err
	}
	return place(got, dst)
}

// place copies the checked download into the cache through internal/atomicfile: the cache
// holds a package whole or not at all, even after a crash.
func place(got, dst string) error {
	src, err := os.Open(got)
	if err != nil {
		return err
	}
	defer src.Close()
	w, err := atomicfile.NewWriter(dst, 0o644)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, src); err != nil {
		return err
	}
	return w.Commit()
}

// AptDownload runs `apt-get download name:arch=version` in dir (apt's own signature checks of
// the archive apply; the lock's sha256 is checked after).
func AptDownload(ctx context.Context, p Package, dir string) error {
	cmd := exec.CommandContext(ctx, "apt-get", "download", "-qq", p.Name+":"+p.Arch+"="+p.Version)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s: apt-get download: %v: %s (is `apt-get update` done, and is this version still in the archive?)",
			ErrFetch, p, err, strings.TrimSpace(string(out)))
	}
	return nil
}
