package main

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain/gotoolchain"
)

// The go toolchain (node/toolchain/gotoolchain):
//
//   - import: `bootstrap --toolchain go` into a fresh store vs a plain extraction of the same
//     zip (the floor: read, inflate, write the files);
//   - examples/go-cli built in the sandbox (a fresh derivation each time, so nothing is cached;
//     cold GOCACHE in /build; wall time of Build) vs the same go commands run directly on the
//     host with the same toolchain, environment and a fresh GOCACHE (goal <= 1.15x);
//   - the toolchain substituted from a peer vs imported, then go-cli built (substitute.go).

func init() { register("go", benchGo) }

func benchGo(c *config) error {
	ctx := context.Background()
	pin, err := gotoolchain.Lookup("")
	if err != nil {
		return err
	}
	a, err := c.newNode("go", false)
	if err != nil {
		return err
	}
	defer a.close()
	tc, imp, err := a.importToolchain(ctx, "go")
	if err != nil {
		return err
	}
	zipPath := gotoolchain.CachePath(pin)
	start := time.Now()
	if err := unzip(zipPath, filepath.Join(c.work, "unzipped")); err != nil {
		return err
	}
	plain := time.Since(start)
	builder.RemoveAll(filepath.Join(c.work, "unzipped"))
	fmt.Printf("go toolchain %s: %s\n", pin.Version, tc)
	ratio("import (check, trim, add)", imp, "plain unzip of the same zip", plain, "")

	if _, err := a.b.ImportBusybox(ctx, "", ""); err != nil {
		return err
	}
	src, err := a.store.AddPath(ctx, filepath.Join(*examplesDir, "go-cli", "src"), storefs.AddOptions{})
	if err != nil {
		return err
	}
	hostGo := filepath.Join(c.work, "host-go")
	if err := a.store.Export(ctx, tc, hostGo); err != nil {
		return err
	}
	hostSrc := filepath.Join(c.work, "host-src")
	if err := a.store.Export(ctx, src, hostSrc); err != nil {
		return err
	}
	salt := 0
	var out cid.Cid
	sandboxed := func(n *node) (time.Duration, error) {
		salt++
		drv, err := goCLI(n, src, fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), salt))
		if err != nil {
			return 0, err
		}
		start := time.Now()
		res, err := n.b.Build(ctx, drv, builder.Options{})
		if err != nil {
			return 0, err
		}
		d := time.Since(start)
		if out.Defined() && !out.Equals(res.Output) {
			return 0, fmt.Errorf("go-cli built to %s, %s before", res.Output, out)
		}
		out = res.Output
		return d, nil
	}
	// The first sandboxed build also materialises the inputs (once per store): not timed.
	if _, err := sandboxed(a); err != nil {
		return err
	}
	var sb, host []time.Duration
	for i := 0; i < c.runs; i++ {
		d, err := sandboxed(a)
		if err != nil {
			return err
		}
		sb = append(sb, d)
		h, err := hostGoBuild(ctx, hostGo, hostSrc, filepath.Join(c.work, fmt.Sprintf("host-%d", i)))
		if err != nil {
			return err
		}
		host = append(host, h)
	}
	ratio(fmt.Sprintf("go-cli build in the sandbox (median/%d)", c.runs), median(sb), "the same go build on the host", median(host), "<= 1.15")

	return substitute(ctx, c, "go", tc, a, func(n *node) (time.Duration, error) {
		if _, err := n.b.ImportBusybox(ctx, "", ""); err != nil {
			return 0, err
		}
		if _, err := n.store.AddPath(ctx, filepath.Join(*examplesDir, "go-cli", "src"), storefs.AddOptions{}); err != nil {
			return 0, err
		}
		return sandboxed(n)
	})
}

// goCLI adds examples/go-cli/go-cli.json for n with salt in its env (a new derivation).
func goCLI(n *node, src cid.Cid, salt string) (cid.Cid, error) {
	data, err := os.ReadFile(filepath.Join(*examplesDir, "go-cli", "go-cli.json"))
	if err != nil {
		return cid.Undef, err
	}
	vars, err := n.b.TemplateVars()
	if err != nil {
		return cid.Undef, err
	}
	vars["src"] = src.String()
	filled, err := builder.Template(data, vars)
	if err != nil {
		return cid.Undef, err
	}
	d, err := derivation.Parse(filled)
	if err != nil {
		return cid.Undef, err
	}
	d.Env["SALT"] = salt
	return n.b.AddDerivation(d)
}

// hostGoBuild runs what go-cli.json's script runs, on the host, with the toolchain at goroot,
// the environment of the derivation and a fresh GOCACHE.
func hostGoBuild(ctx context.Context, goroot, src, dir string) (time.Duration, error) {
	env := []string{"HOME=" + dir, "TZ=UTC", "SOURCE_DATE_EPOCH=1"}
	for k, v := range gotoolchain.BuildEnv(cid.Undef) {
		switch k {
		case "PATH":
			v = filepath.Join(goroot, "bin")
		case "GOCACHE", "GOPATH":
			v = filepath.Join(dir, k)
		}
		env = append(env, k+"="+v)
	}
	goBin := filepath.Join(goroot, "bin", "go")
	out := filepath.Join(dir, "out", "bin", "go-cli")
	start := time.Now()
	for _, args := range [][]string{{goBin, "version"}, {goBin, "build", "-o", out, "."}, {out, "1536"}} {
		if err := hostRun(ctx, src, env, args...); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// unzip is the floor of an import: read and inflate every file of the zip and write it out.
func unzip(zipPath, dst string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, f := range zr.File {
		p := filepath.Join(dst, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		r, err := f.Open()
		if err != nil {
			return err
		}
		out, err := os.Create(p)
		if err != nil {
			r.Close()
			return err
		}
		_, err = io.Copy(out, r)
		r.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
