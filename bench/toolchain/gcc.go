package main

// The gcc toolchain (node/toolchain/gcctoolchain):
//
//   - import time: `bootstrap --toolchain gcc` from cached .debs into a fresh store (check, extract
//     in Go, add, relocate with patchelf in the sandbox, add the output) against the baseline of
//     only unpacking the same .debs with the host's dpkg-deb -x;
//   - examples/lua built in the sandbox (inputs bound from the FUSE store, as on a node; the
//     sandbox's own build time) against the same script, same toolchain and same inputs run on
//     the host without the sandbox: a private mount namespace in which the same store paths are
//     bound at /ipfs/store and chroot, no user/pid/net namespaces, no cgroups (goal: <= 1.15x);
//   - the toolchain substituted from a peer vs imported, then Lua built (substitute.go).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/deb"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/toolchain/debian"
	"github.com/buildchain/buildchain/node/toolchain/gcctoolchain"
)

func init() { register("gcc", benchGCC) }

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
		if err := hostRun(ctx, "", nil, "dpkg-deb", "-x", cache.Path(p), plain); err != nil {
			return err
		}
	}
	unpack := time.Since(start)

	n, err := c.newNode("gcc", true)
	if err != nil {
		return err
	}
	defer n.close()
	// As on a node, builds bind their inputs from the FUSE view of the store (newNode mounts it).
	s, b := n.store, n.b
	gcc, imp, err := n.importToolchain(ctx, "gcc")
	if err != nil {
		return err
	}
	fmt.Printf("gcc toolchain (%d .debs): %s\n", len(pkgs), gcc)
	ratio("import (check, extract, patchelf)", imp, "dpkg-deb -x of the same .debs", unpack, "")

	// Lua in the sandbox vs on the host, same toolchain and inputs through the same FUSE mount.
	src, d, err := luaDrv(ctx, n)
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
		h, err := hostLuaBuild(c, s.MountDir(), []cid.Cid{bb, gcc, src}, d.Args[1], i)
		if err != nil {
			return err
		}
		onHost = append(onHost, h)
	}
	ratio(fmt.Sprintf("lua build in the sandbox (median/%d)", c.runs), median(inSandbox), "the same build on the host", median(onHost), "<= 1.15")

	return substitute(ctx, c, "gcc", gcc, n, func(n *node) (time.Duration, error) {
		if _, err := n.b.Bootstrap(); err != nil {
			if _, err := n.b.ImportBusybox(ctx, "", ""); err != nil {
				return 0, err
			}
		}
		_, d, err := luaDrv(ctx, n)
		if err != nil {
			return 0, err
		}
		drv, err := n.b.AddDerivation(d)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		r, err := n.b.Build(ctx, drv, builder.Options{})
		if err != nil {
			return 0, err
		}
		if !r.Output.Equals(out) {
			return 0, fmt.Errorf("lua built to %s here, %s before", r.Output, out)
		}
		return time.Since(start), nil
	})
}

// luaDrv adds the vendored Lua source to n's store and fills examples/lua/lua.json with n's
// toolchains.
func luaDrv(ctx context.Context, n *node) (cid.Cid, *derivation.Derivation, error) {
	src, err := n.store.AddPath(ctx, filepath.Join(*examplesDir, "lua", "src"), storefs.AddOptions{})
	if err != nil {
		return cid.Undef, nil, err
	}
	vars, err := n.b.TemplateVars()
	if err != nil {
		return cid.Undef, nil, err
	}
	vars["luasrc"] = src.String()
	tmpl, err := os.ReadFile(filepath.Join(*examplesDir, "lua", "lua.json"))
	if err != nil {
		return cid.Undef, nil, err
	}
	filled, err := builder.Template(tmpl, vars)
	if err != nil {
		return cid.Undef, nil, err
	}
	d, err := derivation.Parse(filled)
	return src, d, err
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

func hostLuaBuild(c *config, mnt string, inputs []cid.Cid, script string, i int) (time.Duration, error) {
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
