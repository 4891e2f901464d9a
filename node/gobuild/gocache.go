package gobuild

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
)

// The go command's build cache, answered by this process (GOCACHEPROG, the protocol of
// cmd/go/internal/cacheprog; see doc.go §The go command's cache). It lives in the builder's
// state directory, gocache/: o/{output ID} holds the bodies the go command put (a package
// archive with its build ID stamped, or a small file of the go command's own: a package's
// source list, a compile's output), index.json maps each action ID to its body and, for an
// archive, to the steps (derivation, output, inputs) that made it.

// goCacheKeep is how long an entry no build used is kept (the go command's own cache trims
// after five days too).
const goCacheKeep = 5 * 24 * time.Hour

// arMagic starts every package archive.
var arMagic = []byte("!<arch>\n")

// goCache is the index of the cache directory, loaded once per build and merged back into
// the file at its end.
type goCache struct {
	dir         string
	mu          sync.Mutex
	idx         cacheIndex
	changed     map[string]bool // entries this build put or used
	archChanged bool            // Archives changed
}

type cacheIndex struct {
	// Entries by action ID (hex).
	Entries map[string]*cacheEntry `json:"entries"`
	// Archives: the store CID (a single-file store path) of a body, by output ID, for the
	// steps that name it in an importcfg: hashed once, not once per build.
	Archives map[string]string `json:"archives,omitempty"`
}

type cacheEntry struct {
	Output string       `json:"output"` // output ID (hex): the body's sha256
	Size   int64        `json:"size"`
	Used   int64        `json:"used"` // unix time of the last build that put or got it
	Steps  []stepRecord `json:"steps,omitempty"`
}

// stepRecord is a step that made an archive: a hit counts, pins (and may publish) it as a
// cached step, as if the go command had run it.
type stepRecord struct {
	Tool       string   `json:"tool"`
	ImportPath string   `json:"importPath,omitempty"`
	Derivation string   `json:"drv"`
	Output     string   `json:"out"`
	Uses       []string `json:"uses"`
}

func openGoCache(dir string) (*goCache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "o"), 0o755); err != nil {
		return nil, err
	}
	// What writers killed mid-write left (internal/atomicfile): their temporary files.
	for _, d := range []string{dir, filepath.Join(dir, "o")} {
		if _, err := atomicfile.RemoveStaleIn(d); err != nil {
			return nil, err
		}
	}
	c := &goCache{dir: dir, changed: map[string]bool{}}
	idx, err := readCacheIndex(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, err
	}
	c.idx = idx
	return c, nil
}

func readCacheIndex(path string) (cacheIndex, error) {
	idx := cacheIndex{Entries: map[string]*cacheEntry{}, Archives: map[string]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return idx, err
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		// A cache, not a record: an unreadable index starts over (every step is still in
		// the builder's cache, so the next build only runs the go command's steps again).
		return cacheIndex{Entries: map[string]*cacheEntry{}, Archives: map[string]string{}}, nil
	}
	if idx.Entries == nil {
		idx.Entries = map[string]*cacheEntry{}
	}
	if idx.Archives == nil {
		idx.Archives = map[string]string{}
	}
	return idx, nil
}

func (c *goCache) body(output string) string { return filepath.Join(c.dir, "o", output) }

// save merges what this build changed into the index file, under an flock (another build of
// the same store may save at the same time), drops the entries no build used for
// goCacheKeep and the bodies no entry names.
func (c *goCache) save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.changed) == 0 && !c.archChanged {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(c.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	path := filepath.Join(c.dir, "index.json")
	idx, err := readCacheIndex(path)
	if err != nil {
		return err
	}
	for k := range c.changed {
		if e := c.idx.Entries[k]; e != nil {
			idx.Entries[k] = e
		}
	}
	for o, a := range c.idx.Archives {
		idx.Archives[o] = a
	}
	old := time.Now().Add(-goCacheKeep).Unix()
	live := map[string]bool{}
	for k, e := range idx.Entries {
		if e.Used < old {
			delete(idx.Entries, k)
			continue
		}
		live[e.Output] = true
	}
	for o := range idx.Archives {
		if !live[o] {
			delete(idx.Archives, o)
		}
	}
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	c.changed = map[string]bool{}
	c.archChanged = false
	// Bodies no entry names: a build running now may have just written one it has not
	// indexed yet, so only those older than an hour go.
	ents, err := os.ReadDir(filepath.Join(c.dir, "o"))
	if err != nil {
		return err
	}
	hour := time.Now().Add(-time.Hour)
	for _, e := range ents {
		if live[e.Name()] || strings.HasPrefix(e.Name(), ".") { // a writer's temporary file
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(hour) {
			_ = os.Remove(filepath.Join(c.dir, "o", e.Name()))
		}
	}
	return nil
}

// isBody tells whether host is a body of this cache (an archive the go command got from it).
func (c *goCache) isBody(host string) bool { return filepath.Dir(host) == filepath.Join(c.dir, "o") }

// archive is the store CID of host if it is a body of this cache whose CID is known.
func (c *goCache) archive(host string) (cid.Cid, bool) {
	if !c.isBody(host) {
		return cid.Undef, false
	}
	c.mu.Lock()
	s, ok := c.idx.Archives[filepath.Base(host)]
	c.mu.Unlock()
	if !ok {
		return cid.Undef, false
	}
	a, err := cid.Decode(s)
	return a, err == nil
}

// setArchive records the store CID of host if it is a body of this cache.
func (c *goCache) setArchive(host string, a cid.Cid) {
	if !c.isBody(host) {
		return
	}
	c.mu.Lock()
	c.idx.Archives[filepath.Base(host)] = a.String()
	c.archChanged = true
	c.mu.Unlock()
}

// The protocol's messages (cmd/go/internal/cacheprog Request and Response).
type cacheRequest struct {
	ID       int64
	Command  string
	ActionID []byte `json:",omitempty"`
	OutputID []byte `json:",omitempty"`
	BodySize int64  `json:",omitempty"`
}

type cacheResponse struct {
	ID            int64
	Err           string     `json:",omitempty"`
	KnownCommands []string   `json:",omitempty"`
	Miss          bool       `json:",omitempty"`
	OutputID      []byte     `json:",omitempty"`
	Size          int64      `json:",omitempty"`
	Time          *time.Time `json:",omitempty"`
	DiskPath      string     `json:",omitempty"`
}

// serveCache answers one go command's cache requests (relayed by the forwarder), each in its
// own goroutine: the go command sends them from its parallel actions and matches the answers
// by ID.
func (s *server) serveCache(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	var wmu sync.Mutex
	w := bufio.NewWriter(conn)
	enc := json.NewEncoder(w)
	send := func(r cacheResponse) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = enc.Encode(r)
		_ = w.Flush()
	}
	send(cacheResponse{KnownCommands: []string{"get", "put", "close"}})
	dec := json.NewDecoder(bufio.NewReader(conn))
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var req cacheRequest
		if err := dec.Decode(&req); err != nil {
			return
		}
		var body []byte
		if req.BodySize > 0 {
			// The body follows as a base64 JSON string.
			if err := dec.Decode(&body); err != nil {
				return
			}
		}
		if req.Command == "close" {
			wg.Wait()
			send(cacheResponse{ID: req.ID})
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp cacheResponse
			switch req.Command {
			case "get":
				resp = s.cacheGet(req)
			case "put":
				resp = s.cachePut(ctx, req, body)
			default:
				resp = cacheResponse{Err: "unknown command " + req.Command}
			}
			resp.ID = req.ID
			send(resp)
		}()
	}
}

// cacheGet answers from the index: a hit needs its body whole (its sha256 is its output ID)
// and every step that made it still the builder's cached output of its derivation (built in
// the sandbox or substituted from a VALID claim, and in the store); those steps count as
// cached steps of this build. Anything else is a miss, and the go command runs the step.
func (s *server) cacheGet(req cacheRequest) cacheResponse {
	miss := cacheResponse{Miss: true}
	key := hex.EncodeToString(req.ActionID)
	c := s.cache
	c.mu.Lock()
	e0 := c.idx.Entries[key]
	var e cacheEntry
	if e0 != nil {
		e = *e0
	}
	c.mu.Unlock()
	if e0 == nil {
		return miss
	}
	start := time.Now()
	steps := make([]Step, 0, len(e.Steps))
	for _, r := range e.Steps {
		st, err := r.step()
		if err != nil {
			return miss
		}
		if out, ok := s.cfg.Builder.CachedOutput(st.Derivation); !ok || out != st.Output {
			return miss
		}
		steps = append(steps, st)
	}
	file := c.body(e.Output)
	if err := checkBody(file, e.Output, e.Size); err != nil {
		return miss
	}
	now := time.Now()
	c.mu.Lock()
	if cur := c.idx.Entries[key]; cur != nil && now.Unix()-cur.Used > 3600 {
		cur.Used = now.Unix() // at most once an hour: the index is rewritten only then
		c.changed[key] = true
	}
	c.mu.Unlock()
	for i := range steps {
		steps[i].Duration = time.Since(start)
		s.done(&steps[i])
	}
	if len(steps) > 0 {
		s.mu.Lock()
		s.stats.GoCacheHits++
		s.mu.Unlock()
	}
	out, _ := hex.DecodeString(e.Output)
	return cacheResponse{OutputID: out, Size: e.Size, DiskPath: file}
}

// cachePut writes the body and indexes it. An archive is indexed only with the steps of this
// build that made it (the compile whose -buildid is the action ID, and the asm steps of its
// object directory): no archive is ever served that no step of the store accounts for.
func (s *server) cachePut(ctx context.Context, req cacheRequest, body []byte) cacheResponse {
	sum := sha256.Sum256(body)
	if !bytes.Equal(sum[:], req.OutputID) || int64(len(body)) != req.BodySize {
		return cacheResponse{Err: "put: the output ID is not the body's sha256"}
	}
	c := s.cache
	out := hex.EncodeToString(req.OutputID)
	file := c.body(out)
	if err := checkBody(file, out, int64(len(body))); err != nil {
		if err := atomicfile.WriteFile(file, body, 0o444); err != nil {
			return cacheResponse{Err: fmt.Sprintf("put: %v", err)}
		}
	}
	steps := s.takeSteps(buildIDPart(req.ActionID))
	if bytes.HasPrefix(body, arMagic) && len(steps) == 0 {
		return cacheResponse{DiskPath: file} // not indexed: a later get misses
	}
	e := &cacheEntry{Output: out, Size: int64(len(body)), Used: time.Now().Unix()}
	for _, st := range steps {
		e.Steps = append(e.Steps, st.record())
	}
	key := hex.EncodeToString(req.ActionID)
	c.mu.Lock()
	c.idx.Entries[key] = e
	c.changed[key] = true
	c.mu.Unlock()
	return cacheResponse{DiskPath: file}
}

// checkBody checks that file is a body of the given output ID and size.
func checkBody(file, output string, size int64) error {
	data, err := os.ReadFile(file) // an archive: megabytes at most
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(data); int64(len(data)) != size || hex.EncodeToString(sum[:]) != output {
		return fmt.Errorf("%s: not the body of output %s", file, output)
	}
	return nil
}

// buildIDPart is the action ID as the go command writes it in a build ID (-buildid A/A of a
// compile): cmd/internal/buildid.HashToString, the first 15 bytes in a base64 alphabet.
func buildIDPart(id []byte) string {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(id) < 15 {
		return ""
	}
	var dst strings.Builder
	for i := 0; i < 5; i++ {
		v := uint32(id[3*i])<<16 | uint32(id[3*i+1])<<8 | uint32(id[3*i+2])
		dst.WriteByte(b64[(v>>18)&0x3F])
		dst.WriteByte(b64[(v>>12)&0x3F])
		dst.WriteByte(b64[(v>>6)&0x3F])
		dst.WriteByte(b64[v&0x3F])
	}
	return dst.String()
}

func (st *Step) record() stepRecord {
	r := stepRecord{Tool: st.Tool, ImportPath: st.ImportPath, Derivation: st.Derivation.String(), Output: st.Output.String()}
	for _, u := range st.uses {
		r.Uses = append(r.Uses, u.String())
	}
	return r
}

func (r stepRecord) step() (Step, error) {
	st := Step{Tool: r.Tool, ImportPath: r.ImportPath, Cached: true, GoCache: true}
	var err error
	if st.Derivation, err = cid.Decode(r.Derivation); err != nil {
		return st, err
	}
	if st.Output, err = cid.Decode(r.Output); err != nil {
		return st, err
	}
	for _, u := range r.Uses {
		c, err := cid.Decode(u)
		if err != nil {
			return st, err
		}
		st.uses = append(st.uses, c)
	}
	return st, nil
}

// takeSteps returns (and forgets) the steps of the package whose compile ran with the build
// ID action part id.
func (s *server) takeSteps(id string) []Step {
	s.mu.Lock()
	defer s.mu.Unlock()
	objdir, ok := s.pending[id]
	if !ok {
		return nil
	}
	delete(s.pending, id)
	steps := s.objSteps[objdir]
	delete(s.objSteps, objdir)
	return steps
}
