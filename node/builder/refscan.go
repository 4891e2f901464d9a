package builder

import (
	"bytes"
	"slices"
)

// refScanner finds which of a set of patterns (the CIDs of a build's inputs, or the hash parts
// of Nix store paths) occur in an output's files, at a cost that does not grow with the number
// of patterns. Searching for each pattern in turn (bytes.Contains per candidate) read a linked
// binary once per input: a link of buildchaind has over 2000 inputs, and that scan took most of
// a rebuild after a one-package edit (node/gobuild/doc.go).
//
// Patterns are grouped by their first anchorLen bytes. When there are few such anchors (CIDs
// all start with the same few characters: "bafy", "bafk"), each anchor is found with
// bytes.Index (one fast pass per anchor) and the bytes after a hit are looked up among the
// group's patterns of each length. Otherwise (Nix hash parts share no prefix) each pattern
// length gets one pass the way Nix's own scanner works: a window of that length can only match
// when all its bytes are in the patterns' alphabet, so the pass jumps past any byte outside it,
// never re-reads a byte it already found to be in the alphabet, and looks up only windows made
// of alphabet bytes.
type refScanner struct {
	id      []int  // pattern index -> unique pattern (-1: empty, never matches)
	hit     []bool // by unique pattern
	left    int    // unique patterns not found yet: a scan stops at 0
	anchors []anchorGroup
	windows []windowGroup
	short   [][]byte // unique patterns shorter than anchorLen (searched one by one) and their ids
	shortID []int
}

const (
	anchorLen  = 4
	maxAnchors = 8
)

type anchorGroup struct {
	anchor []byte
	lens   []int          // distinct pattern lengths, ascending
	index  map[string]int // pattern -> unique id
}

type windowGroup struct {
	n     int
	alpha [256]bool
	index map[string]int
}

// newRefScanner prepares a scan for patterns; found(i) reports patterns[i] after scan calls.
func newRefScanner(patterns []string) *refScanner {
	s := &refScanner{id: make([]int, len(patterns))}
	unique := map[string]int{}
	byAnchor := map[string]*anchorGroup{}
	var anchorOrder []string
	for i, p := range patterns {
		if p == "" {
			s.id[i] = -1
			continue
		}
		if u, ok := unique[p]; ok {
			s.id[i] = u
			continue
		}
		u := len(s.hit)
		unique[p] = u
		s.id[i] = u
		s.hit = append(s.hit, false)
		if len(p) < anchorLen {
			s.short = append(s.short, []byte(p))
			s.shortID = append(s.shortID, u)
			continue
		}
		a := p[:anchorLen]
		g, ok := byAnchor[a]
		if !ok {
			g = &anchorGroup{anchor: []byte(a), index: map[string]int{}}
			byAnchor[a] = g
			anchorOrder = append(anchorOrder, a)
		}
		g.index[p] = u
		if !slices.Contains(g.lens, len(p)) {
			g.lens = append(g.lens, len(p))
		}
	}
	s.left = len(s.hit)
	if len(byAnchor) <= maxAnchors {
		for _, a := range anchorOrder {
			g := byAnchor[a]
			slices.Sort(g.lens)
			s.anchors = append(s.anchors, *g)
		}
		return s
	}
	byLen := map[int]*windowGroup{}
	var lens []int
	for _, a := range anchorOrder {
		for p, u := range byAnchor[a].index {
			w, ok := byLen[len(p)]
			if !ok {
				w = &windowGroup{n: len(p), index: map[string]int{}}
				byLen[len(p)] = w
				lens = append(lens, len(p))
			}
			w.index[p] = u
			for _, c := range []byte(p) {
				w.alpha[c] = true
			}
		}
	}
	slices.Sort(lens)
	for _, n := range lens {
		s.windows = append(s.windows, *byLen[n])
	}
	return s
}

// found reports whether patterns[i] occurred in any data scanned so far.
func (s *refScanner) found(i int) bool { return s.id[i] >= 0 && s.hit[s.id[i]] }

func (s *refScanner) mark(u int) {
	if !s.hit[u] {
		s.hit[u] = true
		s.left--
	}
}

// scan searches data (one file's bytes or a symlink's target; a pattern never spans two).
func (s *refScanner) scan(data []byte) {
	for k, p := range s.short {
		if s.left == 0 {
			return
		}
		if !s.hit[s.shortID[k]] && bytes.Contains(data, p) {
			s.mark(s.shortID[k])
		}
	}
	for _, g := range s.anchors {
		s.scanAnchor(&g, data)
	}
	for _, w := range s.windows {
		s.scanWindows(&w, data)
	}
}

func (s *refScanner) scanAnchor(g *anchorGroup, data []byte) {
	for i := 0; s.left > 0; {
		j := bytes.Index(data[i:], g.anchor)
		if j < 0 {
			return
		}
		i += j
		for _, n := range g.lens {
			if i+n > len(data) {
				break
			}
			if u, ok := g.index[string(data[i:i+n])]; ok {
				s.mark(u)
			}
		}
		i++
	}
}

func (s *refScanner) scanWindows(w *windowGroup, data []byte) {
	n := w.n
	ok := 0 // data[i:ok] are known to be alphabet bytes
	for i := 0; i+n <= len(data) && s.left > 0; {
		j := i + n - 1
		for j >= ok && w.alpha[data[j]] {
			j--
		}
		if j >= ok { // data[j] is not in the alphabet: no window containing it matches
			i, ok = j+1, j+1
			continue
		}
		ok = i + n
		if u, hit := w.index[string(data[i:i+n])]; hit {
			s.mark(u)
		}
		i++
	}
}
