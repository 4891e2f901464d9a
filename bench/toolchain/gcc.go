package main

// The gcc toolchain (node/toolchain/gcctoolchain):
//
//   - import time: `bootstrap --toolchain gcc` from cached .debs into a fresh store (check, extract
//     in Go, add, relocate with patchelf in the sandbox, add the output) against the baseline of
//     only unpacking the same .debs with the host's dpkg-deb -x;
//   - examples/lua built in the sandbox (inputs bound from the FUSE store, as on a node; the
//     sandbox's own build time) against the same script, same toolchain and same inputs run on
//     the host without the sandbox: a private mount namespace in which the same store paths are
//     bound at /ipfs/store and chroot, no user/pid/net namespaces, no cgroups (goal: <= 1.15x).

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/deb"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
	"github.com/buildchain/buildchain/node/toolchain"
	"github.com/buildchain/buildchain/node/toolchain/debian"
	"github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
)

func init() { register("gcc", benchGCC) }

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func benchGCC(c *config) error {
	ctx := context.Background()
	cache := &deb.Cache{Dir: debian.DefaultDebCache()}
	if err := gcctoolchain.GCC.Fetch(ctx, cache); err != nil {
		return err
	}
	lock, err := debian.DebianLock()
	if err != nil {
		return err
	}
	pkgs, err := lock.Select(append([]string{debian.PatchelfPackage}, gcctoolchain.GCC.Packages...))
	if err != nil {
		return err
	}

	// Baseline: dpkg-deb -x of the same packages.
	start := time.Now()
	plain := filepath.Join(c.work, "dpkg-deb")
	for _, p := range pkgs {
		if out, err := exec.Command("dpkg-deb", "-x", cache.Path(p), plain).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %v: %s", p.Filename(), err, out)
		}
	}
	unpack := time.Since(start)

	s, b, err := c.freshBuilder("gcc", true)
	if err != nil {
		return err
	}
	defer s.Close()
	// As on a node, builds bind their inputs from the FUSE view of the store.
	srv, err := fusefs.Mount(s, s.MountDir(), fusefs.Options{AllowOther: true})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Unmount() }()
	start = time.Now()
	gcc, err := toolchain.Import(ctx, "gcc", "", &toolchain.Env{Store: s, Builder: b, Options: map[string]string{}, Log: io.Discard})
	if err != nil {
		return err
	}
	imp := time.Since(start)
	fmt.Printf("gcc import (%d .debs, %s): %s; dpkg-deb -x of the same .debs: %s; ratio %.2fx\n",
		len(pkgs), gcc, secs(imp), secs(unpack), imp.Seconds()/unpack.Seconds())

	// Lua in the sandbox vs on the host, same toolchain and inputs through the same FUSE mount.
	src, err := s.AddPath(ctx, filepath.Join(repoRoot(), "examples", "lua", "src"), storefs.AddOptions{})
	if err != nil {
		return err
	}
	vars, err := b.TemplateVars()
	if err != nil {
		return err
	}
	vars["luasrc"] = src.String()
	tmpl, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "lua", "lua.json"))
	if err != nil {
		return err
	}
	filled, err := builder.Template(tmpl, vars)
	if err != nil {
		return err
	}
	d, err := derivation.Parse(filled)
	if err != nil {
		return err
	}
	bb, err := b.Bootstrap()
	if err != nil {
		return err
	}
	var inSandbox, onHost []time.Duration
	var out cid.Cid
	for i := 0; i < c.runs; i++ {
		// A new env entry makes a new derivation: built, not taken from the cache.
		d.Env = map[string]string{"RUN": strconv.Itoa(i)}
		drv, err := b.AddDerivation(d)
		if err != nil {
			return err
		}
		r, err := b.Build(ctx, drv, builder.Options{})
		if err != nil {
			return err
		}
		if out.Defined() && !out.Equals(r.Output) {
			return fmt.Errorf("lua is not reproducible: %s then %s", out, r.Output)
		}
		out = r.Output
		inSandbox = append(inSandbox, r.BuildTime)
		h, err := hostBuild(c, s.MountDir(), []cid.Cid{bb, gcc, src}, d.Args[1], i)
		if err != nil {
			return err
		}
		onHost = append(onHost, h)
	}
	sb, host := median(inSandbox), median(onHost)
	fmt.Printf("lua build (median of %d): sandbox %s, host %s; ratio %.3fx (goal <= 1.15x)\n",
		c.runs, secs(sb), secs(host), sb.Seconds()/host.Seconds())
	return nil
}

// hostScript runs as root in a private mount namespace: a tmpfs root holding the store paths
// (bound from the FUSE mount), /dev and a /build, then the build script chrooted into it.
const hostScript = `set -e
root=$1; mnt=$2; script=$3; shift 3
mount -t tmpfs tmpfs "$root"
mkdir -p "$root/build" "$root/dev" "$root/tmp"
mount --rbind /dev "$root/dev"
for c in "$@"; do
	mkdir -p "$root/ipfs/store/$c"
	mount --bind "$mnt/$c" "$root/ipfs/store/$c"
done
cd "$root/build"
exec env -i out=/build/out HOME=/homeless-shelter TMPDIR=/build TZ=UTC SOURCE_DATE_EPOCH=1 \
	/usr/sbin/chroot "$root" "/ipfs/store/$1/bin/sh" -c "cd /build && $script"
`

func hostBuild(c *config, mnt string, inputs []cid.Cid, script string, i int) (time.Duration, error) {
	root := filepath.Join(c.work, fmt.Sprintf("host-root-%d", i))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return 0, err
	}
	args := []string{"--mount", "--propagation", "private", "/bin/sh", "-c", hostScript, "host-build", root, mnt, script}
	for _, in := range inputs {
		args = append(args, in.String())
	}
	start := time.Now()
	out, err := exec.Command("unshare", args...).CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("host build: %v: %s", err, tail(out))
	}
	return d, nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
