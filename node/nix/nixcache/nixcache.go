// Package nixcache is a Nix HTTP binary cache (the protocol of cache.nixos.org, which an
// unmodified Nix substitutes from) over our store, answering only for outputs the chain
// verified (docs/NIX.md):
//
//   - GET /nix-cache-info: StoreDir /nix/store.
//   - GET /{hash}.narinfo: for a Nix output path imported with `nix import` (node/nix/importer's
//     index) whose derivation has a VALID claim: StorePath, URL, Compression, FileHash,
//     FileSize, NarHash and NarSize of the verified output's NAR, References (the store paths
//     of the derivation's closure whose hash part the NAR contains, as Nix scans), Deriver and
//     Sig, an ed25519 signature in Nix's format over the fingerprint
//     "1;{path};{NarHash};{NarSize};{references}". 404 for anything else: a path we do not
//     know, a derivation without a VALID claim, an output we cannot fetch.
//   - GET /nar/{hash}-{NarHash}.nar[.zst|.xz]: the NAR, uncompressed (streamed from the store)
//     or compressed (made once, kept under the cache directory). The same check as the narinfo
//     runs again: a NAR is served only while its path is verified and only if its NarHash is
//     still the one in the URL.
package nixcache

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/klauspost/compress/zstd"
	"github.com/nix-community/go-nix/pkg/narinfo"
	"github.com/nix-community/go-nix/pkg/narinfo/signature"
	"github.com/nix-community/go-nix/pkg/nixbase32"
	"github.com/nix-community/go-nix/pkg/nixhash"
	"github.com/ulikunitz/xz"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/nix/importer"
	"github.com/buildchain/buildchain/node/nix/nar"
	"github.com/buildchain/buildchain/node/nix/storepath"
	"github.com/buildchain/buildchain/node/storefs"
)

// Errors behind a 404; the body names which.
var (
	ErrUnknown     = errors.New("not a path imported here")
	ErrNotVerified = errors.New("no VALID claim for its derivation")
	ErrUnavailable = errors.New("verified output not available")
)

// Verifier tells which output the chain verified for an imported derivation.
type Verifier interface {
	// VerifiedOutput resolves drv (as imported: its inputs may name other derivations) through
	// the chain's verified outputs of its inputs and returns the output of the resolved
	// derivation's VALID claim; found is false when there is none.
	VerifiedOutput(ctx context.Context, drv cid.Cid) (out cid.Cid, found bool, err error)
}

// Compressions the server makes, by narinfo Compression name.
var extensions = map[string]string{"none": ".nar", "zstd": ".nar.zst", "xz": ".nar.xz"}

// Config of a Server.
type Config struct {
	Store    *storefs.Store
	Index    *importer.Index
	Verifier Verifier
	Key      signature.SecretKey
	// Fetch makes a verified output local (from peers, hash-checked); nil: local only.
	Fetch func(ctx context.Context, c cid.Cid) error
	// CacheDir keeps compressed NARs ($BUILDCHAIN_HOME/nix/nar).
	CacheDir string
	// Compression of the NAR the narinfo names: "zstd" (default), "xz" or "none".
	Compression string
	// Priority in nix-cache-info (lower is tried first; cache.nixos.org is 40).
	Priority int
	Log      *slog.Logger
}

// Server serves the cache. Safe for concurrent use.
type Server struct {
	cfg Config
	mu  sync.Mutex
	// meta caches the NAR facts of an output (they never change for a CID).
	meta map[metaKey]*narMeta
	// making serialises compressing one file.
	making sync.Mutex
}

type metaKey struct {
	out  cid.Cid
	path string
}

type narMeta struct {
	hash [sha256.Size]byte
	size int64
	refs []string // store path bases, sorted
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.Compression == "" {
		cfg.Compression = "zstd"
	}
	if _, ok := extensions[cfg.Compression]; !ok {
		return nil, fmt.Errorf("compression %q: use zstd, xz or none", cfg.Compression)
	}
	if cfg.Priority == 0 {
		cfg.Priority = 30
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
		return nil, err
	}
	// NARs a killed server was compressing (internal/atomicfile's temporary files).
	if _, err := atomicfile.RemoveStaleIn(cfg.CacheDir); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, meta: map[metaKey]*narMeta{}}, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read-only cache: GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case p == "nix-cache-info":
		w.Header().Set("Content-Type", "text/x-nix-cache-info")
		fmt.Fprintf(w, "StoreDir: %s\nWantMassQuery: 1\nPriority: %d\n", storepath.Dir, s.cfg.Priority)
	case strings.HasSuffix(p, ".narinfo") && !strings.Contains(p, "/"):
		s.serveNarinfo(w, r, strings.TrimSuffix(p, ".narinfo"))
	case strings.HasPrefix(p, "nar/"):
		s.serveNAR(w, r, strings.TrimPrefix(p, "nar/"))
	default:
		http.NotFound(w, r)
	}
}

// verified maps a hash part to its store path, derivation and verified output.
func (s *Server) verified(ctx context.Context, hashPart string) (importer.Entry, *derivation.Derivation, cid.Cid, error) {
	e, err := s.cfg.Index.Get(hashPart)
	if err != nil {
		return e, nil, cid.Undef, fmt.Errorf("%w: %v", ErrUnknown, err)
	}
	dc, err := cid.Decode(e.Derivation)
	if err != nil {
		return e, nil, cid.Undef, fmt.Errorf("index entry %s: %w", hashPart, err)
	}
	data, err := s.cfg.Store.GetBlock(dc)
	if err != nil {
		return e, nil, cid.Undef, fmt.Errorf("derivation %s of %s: %w", dc, e.Path, err)
	}
	d, err := derivation.DecodeBlock(dc, data)
	if err != nil {
		return e, nil, cid.Undef, err
	}
	if d.Nix == nil || d.Nix.Out != e.Path {
		return e, nil, cid.Undef, fmt.Errorf("%w: derivation %s does not build %s", ErrUnknown, dc, e.Path)
	}
	out, found, err := s.cfg.Verifier.VerifiedOutput(ctx, dc)
	if err != nil {
		return e, nil, cid.Undef, fmt.Errorf("%w: %v", ErrNotVerified, err)
	}
	if !found {
		return e, nil, cid.Undef, fmt.Errorf("%w: %s (derivation %s)", ErrNotVerified, e.Path, dc)
	}
	if ok, _ := s.cfg.Store.HasBlock(out); !ok {
		if s.cfg.Fetch == nil {
			return e, nil, cid.Undef, fmt.Errorf("%w: %s is not in the local store", ErrUnavailable, out)
		}
		if err := s.cfg.Fetch(ctx, out); err != nil {
			return e, nil, cid.Undef, fmt.Errorf("%w: fetch %s: %v", ErrUnavailable, out, err)
		}
	}
	return e, d, out, nil
}

func (s *Server) notFound(w http.ResponseWriter, what string, err error) {
	s.cfg.Log.Info("nix cache: 404", "request", what, "why", err)
	http.Error(w, err.Error(), http.StatusNotFound)
}

// metaOf computes (once per output) NarHash, NarSize and the references of an output.
func (s *Server) metaOf(ctx context.Context, d *derivation.Derivation, out cid.Cid) (*narMeta, error) {
	k := metaKey{out, d.Nix.Out}
	s.mu.Lock()
	m, ok := s.meta[k]
	s.mu.Unlock()
	if ok {
		return m, nil
	}
	candidates := []string{d.Nix.Out}
	for p := range d.Nix.Paths {
		candidates = append(candidates, p)
	}
	scan := newRefScanner(candidates)
	counter := nar.NewCounter()
	if err := nar.DumpStore(ctx, io.MultiWriter(counter, scan), s.cfg.Store, out); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	m = &narMeta{refs: scan.found()}
	m.hash, m.size = counter.Sum()
	s.mu.Lock()
	s.meta[k] = m
	s.mu.Unlock()
	return m, nil
}

func narHashString(h [sha256.Size]byte) string { return nixbase32.EncodeToString(h[:]) }

func (s *Server) serveNarinfo(w http.ResponseWriter, r *http.Request, hashPart string) {
	ctx := r.Context()
	e, d, out, err := s.verified(ctx, hashPart)
	if err != nil {
		s.notFound(w, hashPart+".narinfo", err)
		return
	}
	m, err := s.metaOf(ctx, d, out)
	if err != nil {
		s.notFound(w, hashPart+".narinfo", err)
		return
	}
	ext := extensions[s.cfg.Compression]
	ni := &narinfo.NarInfo{
		StorePath:   e.Path,
		URL:         "nar/" + hashPart + "-" + narHashString(m.hash) + ext,
		Compression: s.cfg.Compression,
		NarHash:     nixhash.MustNewHashWithEncoding(nixhash.SHA256, m.hash[:], nixhash.NixBase32, true),
		NarSize:     uint64(m.size),
		References:  m.refs,
		Deriver:     storepath.Base(e.DrvPath),
	}
	if s.cfg.Compression != "none" {
		file, err := s.compressed(ctx, out, m, s.cfg.Compression)
		if err != nil {
			s.notFound(w, hashPart+".narinfo", err)
			return
		}
		fh, fs, err := hashFile(file)
		if err != nil {
			s.notFound(w, hashPart+".narinfo", err)
			return
		}
		ni.FileHash = nixhash.MustNewHashWithEncoding(nixhash.SHA256, fh[:], nixhash.NixBase32, true)
		ni.FileSize = uint64(fs)
	}
	sig, err := s.cfg.Key.Sign(rand.Reader, ni.Fingerprint())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ni.Signatures = []signature.Signature{sig}
	w.Header().Set("Content-Type", ni.ContentType())
	_, _ = io.WriteString(w, ni.String())
	s.cfg.Log.Info("nix cache: narinfo", "path", e.Path, "output", out, "nar_hash", narHashString(m.hash))
}

func (s *Server) serveNAR(w http.ResponseWriter, r *http.Request, name string) {
	ctx := r.Context()
	var compression string
	for c, ext := range extensions {
		if strings.HasSuffix(name, ext) && (compression == "" || len(ext) > len(extensions[compression])) {
			compression = c
		}
	}
	base := strings.TrimSuffix(name, extensions[compression])
	hashPart, narHash, ok := strings.Cut(base, "-")
	if compression == "" || !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	_, d, out, err := s.verified(ctx, hashPart)
	if err != nil {
		s.notFound(w, "nar/"+name, err)
		return
	}
	m, err := s.metaOf(ctx, d, out)
	if err != nil {
		s.notFound(w, "nar/"+name, err)
		return
	}
	if narHashString(m.hash) != narHash {
		s.notFound(w, "nar/"+name, fmt.Errorf("%w: the verified output's NarHash is %s now", ErrUnknown, narHashString(m.hash)))
		return
	}
	w.Header().Set("Content-Type", "application/x-nix-nar")
	if compression == "none" {
		w.Header().Set("Content-Length", fmt.Sprint(m.size))
		if r.Method == http.MethodHead {
			return
		}
		if err := nar.DumpStore(ctx, w, s.cfg.Store, out); err != nil {
			s.cfg.Log.Warn("nix cache: NAR stream broke", "output", out, "err", err)
		}
		return
	}
	file, err := s.compressed(ctx, out, m, compression)
	if err != nil {
		s.notFound(w, "nar/"+name, err)
		return
	}
	http.ServeFile(w, r, file)
}

// compressed returns the compressed NAR of out, making it once: written to a temporary file,
// committed through internal/atomicfile, so a crash never leaves a partial file under the final name.
func (s *Server) compressed(ctx context.Context, out cid.Cid, m *narMeta, compression string) (string, error) {
	final := filepath.Join(s.cfg.CacheDir, narHashString(m.hash)+extensions[compression])
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	s.making.Lock()
	defer s.making.Unlock()
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	f, err := atomicfile.NewWriter(final, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Abort()
	var cw io.WriteCloser
	switch compression {
	case "zstd":
		cw, err = zstd.NewWriter(f)
	case "xz":
		cw, err = xz.NewWriter(f)
	}
	if err != nil {
		return "", err
	}
	check := nar.NewCounter()
	if err := nar.DumpStore(ctx, io.MultiWriter(cw, check), s.cfg.Store, out); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err := cw.Close(); err != nil {
		return "", err
	}
	if h, _ := check.Sum(); h != m.hash {
		return "", fmt.Errorf("%w: %s changed while compressing", ErrUnavailable, out)
	}
	return final, f.Commit()
}

func hashFile(p string) ([sha256.Size]byte, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return [sha256.Size]byte{}, 0, err
	}
	defer f.Close()
	c := nar.NewCounter()
	if _, err := io.Copy(c, f); err != nil {
		return [sha256.Size]byte{}, 0, err
	}
	h, n := c.Sum()
	return h, n, nil
}

// refScanner finds which candidate store paths' hash parts occur in a stream (Nix's
// RefScanSink over the NAR), across write boundaries.
type refScanner struct {
	byHash map[string][]string // hash part -> store paths (two names may share none, but be safe)
	seen   map[string]bool
	tail   []byte
}

func newRefScanner(paths []string) *refScanner {
	r := &refScanner{byHash: map[string][]string{}, seen: map[string]bool{}}
	for _, p := range paths {
		h := storepath.HashPart(p)
		r.byHash[h] = append(r.byHash[h], p)
	}
	return r
}

func (r *refScanner) Write(p []byte) (int, error) {
	buf := append(r.tail, p...)
	for h := range r.byHash {
		if !r.seen[h] && bytes.Contains(buf, []byte(h)) {
			r.seen[h] = true
		}
	}
	keep := storepath.HashLen - 1
	if len(buf) < keep {
		keep = len(buf)
	}
	r.tail = append(r.tail[:0], buf[len(buf)-keep:]...)
	return len(p), nil
}

// found returns the bases of the referenced paths, sorted, as narinfo References lists them.
func (r *refScanner) found() []string {
	var out []string
	for h, ps := range r.byHash {
		if r.seen[h] {
			for _, p := range ps {
				out = append(out, storepath.Base(p))
			}
		}
	}
	sort.Strings(out)
	return out
}
