package cargobuild

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DebianCargo is the cargo that plans by default: Debian's (cargo 1.65, whose --build-plan
// the rust toolchain's rustc release matches), chosen by path so a rustup cargo earlier on
// PATH is never taken by accident.
const DebianCargo = "/usr/bin/cargo"

// invocation is one entry of cargo's build plan.
type invocation struct {
	PackageName    string            `json:"package_name"`
	PackageVersion string            `json:"package_version"`
	TargetKind     []string          `json:"target_kind"`
	Kind           *string           `json:"kind"`
	CompileMode    string            `json:"compile_mode"`
	Deps           []int             `json:"deps"`
	Outputs        []string          `json:"outputs"`
	Links          map[string]string `json:"links"`
	Program        string            `json:"program"`
	Args           []string          `json:"args"`
	Env            map[string]string `json:"env"`
	Cwd            string            `json:"cwd"`
}

type buildPlan struct {
	Invocations []invocation `json:"invocations"`
	Inputs      []string     `json:"inputs"`
}

// workspace is what `cargo metadata` says about where the build happens.
type workspace struct {
	Root      string `json:"workspace_root"`
	TargetDir string `json:"target_directory"`
}

// planner runs the chosen cargo.
type planner struct {
	cargo, rustc string
	dir          string
	env          []string
}

func newPlanner(cargo, dir string, extraEnv []string) (*planner, error) {
	if cargo == "" {
		cargo = DebianCargo
	}
	if !filepath.IsAbs(cargo) {
		return nil, fmt.Errorf("%w: %s: name the cargo by its absolute path (never the first one on PATH)", ErrNoCargo, cargo)
	}
	if _, err := os.Stat(cargo); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (install Debian's cargo, or name one with --cargo)", ErrNoCargo, cargo, err)
	}
	// The rustc next to the cargo answers its questions about the target (cfg values, file
	// names); for a build plan it must be the toolchain's release (checkRustc).
	rustc := filepath.Join(filepath.Dir(cargo), "rustc")
	env := append(os.Environ(), extraEnv...)
	env = append(env, "RUSTC_BOOTSTRAP=1", "RUSTC="+rustc, "CARGO_INCREMENTAL=0")
	return &planner{cargo: cargo, rustc: rustc, dir: dir, env: env}, nil
}

func (p *planner) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, p.cargo, args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", p.cargo, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// checkRustc makes sure the planning rustc is the toolchain's release.
func (p *planner) checkRustc(ctx context.Context, want string) error {
	cmd := exec.CommandContext(ctx, p.rustc, "-V")
	cmd.Env = p.env
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%w: %s -V: %v", ErrNoCargo, p.rustc, err)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, "rustc "+want+" ") && got != "rustc "+want {
		return fmt.Errorf("%w: %s is %q, the rust toolchain is rustc %s: plan with the cargo of that release", ErrCargoVersion, p.rustc, got, want)
	}
	return nil
}

func (p *planner) workspace(ctx context.Context) (*workspace, error) {
	out, err := p.run(ctx, "metadata", "--format-version", "1", "--no-deps", "--offline")
	if err != nil {
		return nil, err
	}
	var ws workspace
	if err := json.Unmarshal(out, &ws); err != nil {
		return nil, fmt.Errorf("cargo metadata: %w", err)
	}
	return &ws, nil
}

// plan gets the build plan of `cargo build ARGS`.
func (p *planner) plan(ctx context.Context, args []string) (*buildPlan, error) {
	var bp buildPlan
	if _, err := p.buildJSON(ctx, "--build-plan", args, &bp); err != nil {
		return nil, err
	}
	for i, inv := range bp.Invocations {
		for _, d := range inv.Deps {
			if d < 0 || d >= i {
				// Cargo lists an invocation after those it depends on.
				return nil, fmt.Errorf("%w: invocation %d depends on %d", ErrPlan, i, d)
			}
		}
	}
	return &bp, nil
}

// buildJSON runs `cargo build FLAG -Z unstable-options ARGS` and decodes what it prints into v
// (it returns the raw output too).
func (p *planner) buildJSON(ctx context.Context, flag string, args []string, v any) ([]byte, error) {
	if err := checkArgs(args); err != nil {
		return nil, err
	}
	out, err := p.run(ctx, append([]string{"build", flag, "-Z", "unstable-options"}, args...)...)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return nil, fmt.Errorf("%w: cargo build %s: %v", ErrPlan, flag, err)
	}
	return out, nil
}

// checkArgs rejects cargo build arguments this package cannot follow.
func checkArgs(args []string) error {
	for _, a := range args {
		if a == "--target" || strings.HasPrefix(a, "--target=") {
			return fmt.Errorf("%w: cross compilation (%s)", ErrUnsupported, a)
		}
	}
	return nil
}
