package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Host paths never reach the build, not even through /proc/self/mountinfo.
//
// A bind mount shows there as the path of its source below the root of the source's filesystem
// (e.g. /var/lib/buildchain/builds/tmp/4242-hello-8123/build: the host's layout, a pid and a random
// suffix), with the host's device and filesystem options. A build that records it differs between
// builders and learns where the host keeps things. An overlay is a filesystem of its own: its root
// shows as "/", its source as the name we give (overlaySource) and its options as the layer paths
// exactly as passed to mount(2). mountLayers binds each source at a numbered directory of a staging
// area and passes paths relative to it, so the options read e.g. "lowerdir=3:empty" on every host;
// the staging mounts are gone before the builder starts (an overlay holds private clones of its
// layers). What mountinfo still shows of the host is kernel detail, not paths: mount ids and device
// numbers (counters that differ between two builds on one machine too, like inode numbers), the
// overlay defaults the kernel prints, and the superblock of /dev's device nodes (devtmpfs, whose
// size= follows the host's memory: device nodes cannot be made or opened on a filesystem mounted in
// a user namespace, so they stay binds of the host's).
//
//   - Read-only directory: lowerdir=<n>:empty (an overlay without an upper layer needs two).
//   - Writable directory: the source itself is the upper layer, so what the build writes lands there
//     as plain files (the lower layer is empty: nothing is ever copied up or whited out). The work
//     directory an overlay needs on the same mount is the sibling WorkDir(source), made by Run; the
//     staging bind covers the parent so that both are on one mount.
//   - Read-only file: its parent directory becomes a read-only overlay in the staging area and the
//     file is bound from there, which shows as "/<file name>" of an overlay.
const overlaySource = "sandbox"

// WorkDir is the overlay work directory Run creates next to a writable mount's source (and removes
// after the build): an overlay needs one on the same filesystem as its upper layer.
func WorkDir(source string) string {
	return filepath.Join(filepath.Dir(source), ".sandbox-work."+filepath.Base(source))
}

// mountLayers mounts every host path of mounts (sorted so that parents come first) below root.
func mountLayers(root string, mounts []Mount) error {
	stage := filepath.Join(root, ".stage")
	if err := os.MkdirAll(filepath.Join(stage, "empty"), 0o755); err != nil {
		return fmt.Errorf("staging area: %w", err)
	}
	// Layer paths are relative to the staging area: mount(2) resolves them against the cwd.
	if err := unix.Chdir(stage); err != nil {
		return fmt.Errorf("chdir staging area: %w", err)
	}
	// The empty layer is a filesystem's root, not a directory of the staging area: removing the
	// staging area would leave the overlays a deleted directory, which reads as an error.
	if err := unix.Mount("tmpfs", "empty", "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "mode=0555"); err != nil {
		return fmt.Errorf("empty layer: %w", err)
	}
	staged := []string{"empty"}
	for i, m := range mounts {
		dst := filepath.Join(root, m.Target)
		n := strconv.Itoa(i)
		st, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("mount source: %w", err)
		}
		ro := uintptr(unix.MS_RDONLY)
		if m.Writable {
			ro = 0
		}
		switch {
		case st.IsDir() && !m.Writable:
			if err := stageBind(m.Source, n); err != nil {
				return err
			}
			staged = append(staged, n)
			if err := overlay(dst, ro, "lowerdir="+n+":empty"); err != nil {
				return fmt.Errorf("mount %s: %w", m.Target, err)
			}
		case st.IsDir():
			if err := stageBind(filepath.Dir(m.Source), n); err != nil {
				return err
			}
			staged = append(staged, n)
			opts := fmt.Sprintf("lowerdir=empty,upperdir=%s/%s,workdir=%s/%s", n, filepath.Base(m.Source), n, filepath.Base(WorkDir(m.Source)))
			if err := overlay(dst, ro, opts); err != nil {
				return fmt.Errorf("mount %s writable: %w", m.Target, err)
			}
		case m.Writable:
			return fmt.Errorf("mount %s: a writable mount must be a directory", m.Target)
		default:
			if err := stageBind(filepath.Dir(m.Source), n); err != nil {
				return err
			}
			view := "o" + n
			staged = append(staged, n, view)
			if err := overlay(view, unix.MS_RDONLY, "lowerdir="+n+":empty"); err != nil {
				return fmt.Errorf("mount %s: %w", m.Target, err)
			}
			if err := bindMount(filepath.Join(view, filepath.Base(m.Source)), dst, false); err != nil {
				return err
			}
		}
	}
	// Views first (they may sit on staged binds), then the binds; nothing of the stage remains.
	for i := len(staged) - 1; i >= 0; i-- {
		if err := unix.Unmount(staged[i], unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount staged %s: %w", staged[i], err)
		}
		if err := os.Remove(staged[i]); err != nil {
			return fmt.Errorf("remove staged %s: %w", staged[i], err)
		}
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	return os.RemoveAll(stage)
}

// stageBind binds a host directory at name in the staging area (the cwd).
func stageBind(src, name string) error {
	if err := os.Mkdir(name, 0o755); err != nil {
		return fmt.Errorf("staging %s: %w", name, err)
	}
	if err := unix.Mount(src, name, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return nil
}

// overlay mounts an overlay at dst (created if missing); opts name layers relative to the cwd.
func overlay(dst string, flags uintptr, opts string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("mount point: %w", err)
	}
	return unix.Mount(overlaySource, dst, "overlay", flags|unix.MS_NOSUID|unix.MS_NODEV, opts)
}
