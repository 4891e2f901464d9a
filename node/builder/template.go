package builder

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

var templateVar = regexp.MustCompile(`@([a-z][a-z0-9_-]*)@`)

// Template fills @name@ variables in a derivation file (see examples/README.md). Every
// variable used must be set: a typo must not become a literal path.
func Template(data []byte, vars map[string]string) ([]byte, error) {
	var missing []string
	out := templateVar.ReplaceAllFunc(data, func(m []byte) []byte {
		name := string(m[1 : len(m)-1])
		v, ok := vars[name]
		if !ok {
			missing = append(missing, "@"+name+"@")
			return m
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("template variables not set: %s (use --set name=value)", strings.Join(missing, ", "))
	}
	return out, nil
}
