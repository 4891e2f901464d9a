package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/buildchain/buildchain/testutil/localnet"
)

// TestSystemdUnits: the unit files operators install (contrib/systemd) load without a
// warning (systemd-analyze verify, with /usr/local/bin/buildchaind replaced by this
// checkout's binary), and the buildchaind command line each one starts is one the binary
// accepts (its flags parse: the same line with --help succeeds).
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("needs systemd-analyze (Debian systemd)")
	}
	units, _ := filepath.Glob(filepath.Join(localnet.RepoRoot(), "contrib", "systemd", "*.service"))
	if len(units) < 3 {
		t.Fatalf("want the node, sidecar and store units, found %v", units)
	}
	bin := localnet.Binary(t)
	dir := t.TempDir()
	execStart := regexp.MustCompile(`(?m)^ExecStart=/usr/local/bin/buildchaind (.*)$`)
	envLine := regexp.MustCompile(`(?m)^Environment=(.*)$`)
	var copies []string
	for _, u := range units {
		bz, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(bz)
		m := execStart.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("%s: no ExecStart=/usr/local/bin/buildchaind ...", u)
		}
		// The command line with the unit's Environment= expanded, as systemd does for ${VAR}.
		vars := map[string]string{}
		for _, e := range envLine.FindAllStringSubmatch(text, -1) {
			for _, kv := range strings.Fields(e[1]) {
				k, v, _ := strings.Cut(kv, "=")
				vars[k] = v
			}
		}
		args := strings.Fields(os.Expand(m[1], func(k string) string { return vars[k] }))
		out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: buildchaind %s: %v\n%s", filepath.Base(u), strings.Join(args, " "), err, out)
		}
		c := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(c, []byte(strings.ReplaceAll(text, "/usr/local/bin/buildchaind", bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, copies...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
