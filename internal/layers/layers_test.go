package layers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/buildchain/buildchain"

// row is one row of the layers table: its layer number and the package
// prefixes (module-relative) it owns.
type row struct {
	line     int // in the document, to name it
	layer    int
	prefixes []string
}

var (
	rowRE  = regexp.MustCompile(`^\|\s*(\d+)\s+[^|]*\|([^|]*)\|`)
	pathRE = regexp.MustCompile("`([^`]+)`")
)

// readTable parses the §Layers table of docs/ARCHITECTURE.md: the second
// column's backquoted names that are directories of the repository are
// package prefixes (sub-packages named without their parent, like
// `fusefs` after `node/storefs`, are covered by the prefix already).
func readTable(t *testing.T, root string) []row {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Layers"
			continue
		}
		m := rowRE.FindStringSubmatch(line)
		if !in || m == nil {
			continue
		}
		layer, _ := strconv.Atoi(m[1])
		r := row{line: n, layer: layer}
		for _, p := range pathRE.FindAllStringSubmatch(m[2], -1) {
			name := p[1]
			if st, err := os.Stat(filepath.Join(root, name)); err == nil && st.IsDir() {
				r.prefixes = append(r.prefixes, name)
			} else if strings.Contains(name, "/") {
				t.Errorf("docs/ARCHITECTURE.md:%d names %s, which is not a directory of the repository", n, name)
			}
		}
		if len(r.prefixes) == 0 {
			t.Errorf("docs/ARCHITECTURE.md:%d: a layer row without packages", n)
		}
		rows = append(rows, r)
	}
	if len(rows) < 5 {
		t.Fatalf("docs/ARCHITECTURE.md §Layers: found %d table rows; has the table moved?", len(rows))
	}
	return rows
}

// rowOf is the row owning pkg (module-relative): the longest prefix wins.
func rowOf(rows []row, pkg string) (int, bool) {
	best, bestLen := -1, -1
	for i, r := range rows {
		for _, p := range r.prefixes {
			if (pkg == p || strings.HasPrefix(pkg, p+"/")) && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
		}
	}
	return best, best >= 0
}

// TestNoPackageImportsAHigherLayer: every package of the module has a row in
// docs/ARCHITECTURE.md §Layers, and its imports (tests' imports aside) are
// of a lower layer or of its own row.
func TestNoPackageImportsAHigherLayer(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	rows := readTable(t, root)

	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,GoFiles", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
		GoFiles    []string
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	checked := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if len(p.GoFiles) == 0 {
			continue // tests only, or build-tagged out (internal/deps)
		}
		name := strings.TrimPrefix(p.ImportPath, module+"/")
		ri, ok := rowOf(rows, name)
		if !ok {
			t.Errorf("%s has no layer: add it to the table in docs/ARCHITECTURE.md §Layers", name)
			continue
		}
		checked++
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			di, ok := rowOf(rows, dep)
			if !ok {
				continue // reported as its own package
			}
			if di != ri && rows[di].layer >= rows[ri].layer {
				t.Errorf("%s (layer %d, docs/ARCHITECTURE.md:%d) imports %s (layer %d, docs/ARCHITECTURE.md:%d): a package imports only lower layers or its own row",
					name, rows[ri].layer, rows[ri].line, dep, rows[di].layer, rows[di].line)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d packages: %s", checked, fmt.Sprint(rows))
	}
}
