package cargobuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// exampleDir copies examples/NAME to a fresh directory.
func exampleDir(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dst := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("cp", "-r", filepath.Join(filepath.Dir(file), "..", "..", "examples", name), dst).CombinedOutput()
	require.NoError(t, err, string(out))
	return dst
}

var hashRe = regexp.MustCompile(`[0-9a-f]{16}`)

// TestUnitGraphMatchesBuildPlan: the invocations written from Debian cargo's unit graph of
// examples/rust-cli and of testdata/links (a package with `links`, whose build script run the
// dependent's script run waits for) are the ones its --build-plan prints (file-name hashes
// aside: ours are our own), argument for argument and variable for variable, for every unit:
// lib, proc macro, bin, build script compile and run. Only cargo plans here (seconds);
// nothing is built.
func TestUnitGraphMatchesBuildPlan(t *testing.T) {
	for _, p := range []string{DebianCargo, "/usr/bin/rustc", "/usr/share/cargo/registry/serde_json-1.0.87"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s missing: run `make deps`", p)
		}
	}
	_, file, _, _ := runtime.Caller(0)
	links := filepath.Join(t.TempDir(), "links")
	out, err := exec.Command("cp", "-r", filepath.Join(filepath.Dir(file), "testdata", "links"), links).CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dir := range []string{exampleDir(t, "rust-cli"), links} {
		t.Run(filepath.Base(dir), func(t *testing.T) { unitGraphMatchesBuildPlan(t, dir) })
	}
}

func unitGraphMatchesBuildPlan(t *testing.T, dir string) {
	ctx := context.Background()
	p, err := newPlanner(DebianCargo, dir, nil)
	require.NoError(t, err)
	require.NoError(t, p.checkRustc(ctx, RustcRelease))
	ws, err := p.workspace(ctx)
	require.NoError(t, err)
	for _, args := range [][]string{{"--offline"}, {"--offline", "--release"}} {
		want, err := p.plan(ctx, args)
		require.NoError(t, err)
		cmd := exec.Command(p.rustc, "--print", "cfg")
		cmd.Env = p.env
		tcfg, err := cmd.Output()
		require.NoError(t, err)
		got, err := p.unitGraphPlan(ctx, ws, args, string(tcfg))
		require.NoError(t, err)
		require.Len(t, got.Invocations, len(want.Invocations), "%v", args)

		norm := func(bp *buildPlan) map[string]string {
			m := map[string]string{}
			for _, inv := range bp.Invocations {
				key := inv.PackageName + " " + strings.Join(inv.TargetKind, ",") + " " + inv.CompileMode
				var lines []string
				for _, a := range inv.Args {
					if strings.HasPrefix(a, "incremental=") {
						a = "incremental=" // cargo's incremental directory for the workspace's crate
					}
					lines = append(lines, "arg "+a)
				}
				for k, v := range inv.Env {
					switch k {
					case "CARGO", "LD_LIBRARY_PATH", "NUM_JOBS", "RUSTC", "RUSTDOC":
						continue // host facts: the translation replaces or drops them (unit.go)
					}
					lines = append(lines, "env "+k+"="+v)
				}
				sort.Strings(lines[len(inv.Args):])
				lines = append(lines, "program "+filepath.Base(inv.Program), "cwd "+inv.Cwd)
				for _, o := range inv.Outputs {
					lines = append(lines, "output "+o)
				}
				for l, o := range inv.Links {
					lines = append(lines, "link "+l+" -> "+o)
				}
				var deps []string
				for _, d := range inv.Deps {
					di := bp.Invocations[d]
					deps = append(deps, di.PackageName+" "+strings.Join(di.TargetKind, ",")+" "+di.CompileMode)
				}
				sort.Strings(deps)
				lines = append(lines, "deps "+strings.Join(deps, "; "))
				m[key] = hashRe.ReplaceAllString(strings.Join(lines, "\n"), "HASH")
			}
			return m
		}
		w, g := norm(want), norm(got)
		require.Len(t, w, len(want.Invocations), "units are told apart by package, kind and mode")
		for k, v := range w {
			// The incremental flag is dropped by the translation; the unit graph writes none.
			v = strings.Replace(v, "arg -C\narg incremental=\n", "", 1)
			require.Equal(t, v, g[k], "%v: %s", args, k)
		}
	}
}
