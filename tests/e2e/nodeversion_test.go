package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// debianNode is the node that `make deps` (scripts/deps.sh) installs on a fresh Debian 12
// machine: Debian's nodejs package. A machine may have a newer node already (deps.sh then
// keeps it), so the client test must run on this one.
const debianNode = "18.20.4"

// TestClientsRunOnDebianNode checks that every package pinned in tests/clients/package-lock.json
// accepts Debian 12's node in its "engines" field: CosmJS 0.37 and later need node 20.19
// (their @noble and @scure dependencies are ES modules that CommonJS code require()s, which
// node 18 refuses: ERR_REQUIRE_ESM), so a fresh Debian machine could not run the CosmJS test.
// The CosmJS test itself (TestClientsOnLocalnet) runs on whatever node the machine has.
func TestClientsRunOnDebianNode(t *testing.T) {
	bz, err := os.ReadFile(filepath.Join(localnet.RepoRoot(), "tests", "clients", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
			Engines json.RawMessage
		} `json:"packages"`
	}
	if err := json.Unmarshal(bz, &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	if len(lock.Packages) < 2 {
		t.Fatalf("package-lock.json lists no packages")
	}
	for name, p := range lock.Packages {
		if len(p.Engines) == 0 {
			continue
		}
		// engines is an object; very old packages wrote an array of strings ("node >= 0.8").
		var eng struct {
			Node string `json:"node"`
		}
		if json.Unmarshal(p.Engines, &eng) != nil || eng.Node == "" {
			continue
		}
		ok, err := satisfies(debianNode, eng.Node)
		if err != nil {
			t.Errorf("%s@%s: engines.node %q: %v", name, p.Version, eng.Node, err)
			continue
		}
		if !ok {
			t.Errorf("%s@%s needs node %q: Debian 12's node %s (what make deps installs) cannot run it",
				name, p.Version, eng.Node, debianNode)
		}
	}
}

func TestSatisfies(t *testing.T) {
	for _, c := range []struct {
		v, r string
		ok   bool
	}{
		{"18.20.4", ">=18", true}, {"18.20.4", ">= 20.19.0", false}, {"18.20.4", ">=20.19", false},
		{"18.20.4", "^14.21.3 || >=16", true}, {"18.20.4", ">= 0.4", true}, {"18.20.4", "^16", false},
		{"18.20.4", "18.x", true}, {"18.20.4", "~18.19.0", false}, {"18.20.4", ">=12 <18", false},
		{"18.20.4", "*", true}, {"18.20.4", ">18.20.4", false}, {"18.20.4", "<=18.20.4", true},
	} {
		ok, err := satisfies(c.v, c.r)
		if err != nil || ok != c.ok {
			t.Errorf("satisfies(%s, %q) = %v, %v; want %v", c.v, c.r, ok, err, c.ok)
		}
	}
	if _, err := satisfies("18.20.4", ">=18 garbage"); err == nil {
		t.Error("a range it cannot read must be an error, not a pass")
	}
}

// satisfies reports whether version v is in the npm semver range r, for the forms engines
// fields use: alternatives joined by ||, each a list of comparators (>=, >, <=, <, =, ^, ~)
// with full or partial versions (18, 20.19, 18.x) or *. Anything else is an error.
func satisfies(v, r string) (bool, error) {
	ver, err := parseVersion(v)
	if err != nil {
		return false, err
	}
	r = regexp.MustCompile(`(>=|<=|>|<|=|\^|~)\s+`).ReplaceAllString(r, "$1")
	for _, alt := range strings.Split(r, "||") {
		all := true
		for _, c := range strings.Fields(alt) {
			ok, err := comparatorHolds(ver, c)
			if err != nil {
				return false, err
			}
			all = all && ok
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

var comparatorRE = regexp.MustCompile(`^(>=|<=|>|<|=|\^|~)?v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?$`)

func comparatorHolds(v [3]int, c string) (bool, error) {
	if c == "*" || c == "x" {
		return true, nil
	}
	m := comparatorRE.FindStringSubmatch(c)
	if m == nil {
		return false, fmt.Errorf("cannot read comparator %q", c)
	}
	op := m[1]
	var b [3]int
	n := 0 // how many parts are given
	for i, s := range m[2:] {
		if s == "" || s == "x" || s == "X" || s == "*" {
			break
		}
		b[i], _ = strconv.Atoi(s)
		n++
	}
	cmp := compareVersions(v, b)
	// upper is the first version past a partial or caret/tilde range's end.
	upper := func(part int) [3]int {
		u := b
		u[part]++
		for i := part + 1; i < 3; i++ {
			u[i] = 0
		}
		return u
	}
	switch op {
	case ">=":
		return cmp >= 0, nil
	case ">":
		if n < 3 && n > 0 {
			return compareVersions(v, upper(n-1)) >= 0, nil
		}
		return cmp > 0, nil
	case "<=":
		if n < 3 && n > 0 {
			return compareVersions(v, upper(n-1)) < 0, nil
		}
		return cmp <= 0, nil
	case "<":
		return cmp < 0, nil
	case "^":
		part := 0
		for part < n-1 && b[part] == 0 {
			part++
		}
		return cmp >= 0 && compareVersions(v, upper(part)) < 0, nil
	case "~":
		part := 1
		if n < 2 {
			part = 0
		}
		return cmp >= 0 && compareVersions(v, upper(part)) < 0, nil
	default: // "=" or none: exact, or an x-range when partial
		if n == 0 {
			return true, nil
		}
		if n < 3 {
			return cmp >= 0 && compareVersions(v, upper(n-1)) < 0, nil
		}
		return cmp == 0, nil
	}
}

func parseVersion(s string) ([3]int, error) {
	var v [3]int
	parts := strings.SplitN(strings.TrimPrefix(s, "v"), ".", 3)
	if len(parts) != 3 {
		return v, fmt.Errorf("version %q: want major.minor.patch", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, fmt.Errorf("version %q: %w", s, err)
		}
		v[i] = n
	}
	return v, nil
}

func compareVersions(a, b [3]int) int {
	for i := 0; i < 3; i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
