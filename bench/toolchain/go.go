package main

import (
	"archive/zip"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain"
	"github.com/buildchain/buildchain/node/toolchain/gotoolchain"
)

var examplesDir = flag.String("examples", "examples", "the repository's examples directory")

func init() { register("go", benchGo) }

func benchGo(ctx context.Context, w *work) error {
	pin, err := gotoolchain.Lookup("")
	if err != nil {
		return err
	}
	// 1. Import vs a plain extraction of the zip it reads.
	a, err := w.newNode("go-a")
	if err != nil {
		return err
	}
	defer a.close()
	start := time.Now()
	tc, err := toolchain.Import(ctx, "go", "", &toolchain.Env{Store: a.store, Builder: a.b})
	if err != nil {
		return err
	}
	imp := time.Since(start)
	zipPath := gotoolchain.CachePath(pin)
	start = time.Now()
	if err := unzip(zipPath, filepath.Join(w.dir, "unzipped")); err != nil {
		return err
	}
	plain := time.Since(start)
	builder.RemoveAll(filepath.Join(w.dir, "unzipped"))
	fmt.Printf("go toolchain %s: %s\n", pin.Version, tc)
	ratio("import (check, trim, add)", imp, "plain unzip of the same zip", plain, "")

	// 2. The go-cli build in the sandbox vs on the host with the same toolchain.
	if _, err := a.b.ImportBusybox(ctx, "", ""); err != nil {
		return err
	}
	src, err := a.store.AddPath(ctx, filepath.Join(*examplesDir, "go-cli", "src"), storefs.AddOptions{})
	if err != nil {
		return err
	}
	hostGo := filepath.Join(w.dir, "host-go")
	if err := a.store.Export(ctx, tc, hostGo); err != nil {
		return err
	}
	hostSrc := filepath.Join(w.dir, "host-src")
	if err := a.store.Export(ctx, src, hostSrc); err != nil {
		return err
	}
	salt := 0
	sandboxed := func(n *node) (time.Duration, cid.Cid, error) {
		salt++
		drv, err := goCLI(n, src, fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), salt))
		if err != nil {
			return 0, cid.Undef, err
		}
		start := time.Now()
		res, err := n.b.Build(ctx, drv, builder.Options{})
		if err != nil {
			return 0, cid.Undef, err
		}
		return time.Since(start), res.Output, nil
	}
	// The first sandboxed build also materialises the inputs (once per store): not timed.
	if _, _, err := sandboxed(a); err != nil {
		return err
	}
	var sb, host []time.Duration
	for i := 0; i < w.n; i++ {
		d, _, err := sandboxed(a)
		if err != nil {
			return err
		}
		sb = append(sb, d)
		h, err := hostBuild(ctx, hostGo, hostSrc, filepath.Join(w.dir, fmt.Sprintf("host-%d", i)))
		if err != nil {
			return err
		}
		host = append(host, h)
	}
	ratio("go-cli build in the sandbox", median(sb), "the same go build on the host", median(host), "≤ 1.15")

	// 3. A store without the toolchain: substitute it from a peer, or import it locally.
	peerA, err := newP2P(ctx, a, nil)
	if err != nil {
		return err
	}
	defer peerA.Close()
	b, err := w.newNode("go-b")
	if err != nil {
		return err
	}
	defer b.close()
	peerB, err := newP2P(ctx, b, peerA)
	if err != nil {
		return err
	}
	defer peerB.Close()
	start = time.Now()
	if err := peerB.Fetch(ctx, tc, nil); err != nil {
		return fmt.Errorf("fetch the toolchain from the peer: %w", err)
	}
	fetched := time.Since(start)
	// The fetched toolchain is the same store path: @go@ names it (its references are found by
	// scanning it at the first build, part of the measured build).
	if err := b.b.RecordToolchain("go", tc); err != nil {
		return err
	}
	if err := peerB.Fetch(ctx, src, nil); err != nil {
		return err
	}
	if _, err := b.b.ImportBusybox(ctx, "", ""); err != nil {
		return err
	}
	bBuild, _, err := sandboxed(b)
	if err != nil {
		return err
	}
	c, err := w.newNode("go-c")
	if err != nil {
		return err
	}
	defer c.close()
	start = time.Now()
	if _, err := toolchain.Import(ctx, "go", "", &toolchain.Env{Store: c.store, Builder: c.b}); err != nil {
		return err
	}
	imported := time.Since(start)
	if _, err := c.store.AddPath(ctx, filepath.Join(*examplesDir, "go-cli", "src"), storefs.AddOptions{}); err != nil {
		return err
	}
	if _, err := c.b.ImportBusybox(ctx, "", ""); err != nil {
		return err
	}
	cBuild, _, err := sandboxed(c)
	if err != nil {
		return err
	}
	ratio("toolchain from a peer", fetched, "imported locally", imported, "")
	ratio("  then the go-cli build", fetched+bBuild, "imported, then the build", imported+cBuild, "")
	return nil
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

// hostBuild runs what go-cli.json's script runs, on the host, with the toolchain at goroot,
// the environment of the derivation and a fresh GOCACHE.
func hostBuild(ctx context.Context, goroot, src, dir string) (time.Duration, error) {
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
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir, cmd.Env = src, env
		if b, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("host %v: %v\n%s", args, err, b)
		}
	}
	return time.Since(start), nil
}

func newP2P(ctx context.Context, n *node, boot *p2p.Node) (*p2p.Node, error) {
	var peers []string
	if boot != nil {
		for _, a := range boot.Addrs() {
			peers = append(peers, a.String())
		}
	}
	return p2p.New(ctx, p2p.Config{KeyFile: filepath.Join(n.dir, "p2p.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap: peers, Blockstore: n.store.Blockstore(), ReprovideInterval: -1, ReannounceInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
