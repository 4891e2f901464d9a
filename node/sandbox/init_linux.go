package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// File descriptors the parent hands to the init (os/exec ExtraFiles start at 3).
const (
	// fdConfig carries a 4-byte big-endian length and the initConfig JSON, then, once the parent
	// has put the init into the build's cgroups, one "go" byte. The init sets up the sandbox
	// while the parent does the (slow, RCU-synchronised) cgroup migration, and waits for the go
	// byte only before it drops privileges and execs the builder, so the limits hold for every
	// instruction of the build without serialising the two.
	fdConfig = 3
	// fdErr: the init first writes readySignal once its runtime and package initialisation
	// are done and it waits for a config (a spare is only ready then); after that, a setup
	// error. It is close-on-exec, so EOF with nothing more means the builder was exec'd.
	fdErr = 4
)

const (
	goSignal    = 'G'
	readySignal = 'R'
)

// initConfig is what the parent sends to the init over fdConfig.
type initConfig struct {
	Root    string   // empty host directory to build the new root in
	Builder string   // path inside the sandbox
	Argv    []string // full argv including argv[0]
	Env     []string // final environment
	Mounts  []Mount  // includes /build unless BuildTmpfs
	// BuildTmpfs mounts a tmpfs owned by the builder at /build.
	BuildTmpfs bool
}

// Init must be called first thing in main() of every binary that uses Run, and in TestMain of
// every test package that runs builds. In the sandbox init it never returns; elsewhere it is a no-op.
func Init() {
	if len(os.Args) == 0 || os.Args[0] != initArg0 {
		return
	}
	// Every step of the setup, and the final execve, must run on the thread that owns the new
	// mount namespace; never unlocked, so the runtime never reuses this thread for anything else.
	runtime.LockOSThread()
	err := runInit()
	// Only reached when setup failed (success ends in execve).
	f := os.NewFile(fdErr, "errpipe")
	fmt.Fprint(f, err.Error())
	os.Exit(127)
}

func runInit() error {
	// The UTS and network namespaces exist since clone: set them up before blocking on the
	// config, so a spare init has done it by the time a build takes it.
	if err := unix.Sethostname([]byte(Hostname)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	if err := unix.Setdomainname([]byte("(none)")); err != nil {
		return fmt.Errorf("setdomainname: %w", err)
	}
	hostNet := len(os.Args) >= 2 && os.Args[1] == hostNetArg
	if !hostNet {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if _, err := os.NewFile(fdErr, "errpipe").Write([]byte{readySignal}); err != nil {
		return fmt.Errorf("signal ready: %w", err)
	}
	cfgFile := os.NewFile(fdConfig, "config")
	var hdr [4]byte
	if _, err := io.ReadFull(cfgFile, hdr[:]); err != nil {
		return fmt.Errorf("read config length: %w", err)
	}
	raw := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(cfgFile, raw); err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var cfg initConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	// The error pipe must not leak into the builder.
	unix.CloseOnExec(fdErr)

	// Output modes must not depend on the umask of whoever started the build.
	unix.Umask(0o022)
	// A new mount namespace for this thread only (the Go runtime's other threads stay where
	// they are; execve below makes this thread's namespaces the process's). Init locked it.
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	// Nothing we mount may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	root := cfg.Root
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs root: %w", err)
	}
	for _, d := range []string{"ipfs/store", "dev", "proc", "etc", "tmp", strings.TrimPrefix(HomeDir, "/")} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", d, err)
		}
	}
	// HomeDir exists but is not writable (owned by root, 0555): as in Nix, builds must not use $HOME.
	if err := os.Chmod(filepath.Join(root, HomeDir), 0o555); err != nil {
		return err
	}
	if err := writeEtc(root, hostNet); err != nil {
		return err
	}
	// Sorted by target so a parent directory is mounted before anything below it.
	mounts := append([]Mount(nil), cfg.Mounts...)
	sort.SliceStable(mounts, func(i, j int) bool { return mounts[i].Target < mounts[j].Target })
	if err := mountLayers(root, mounts); err != nil {
		return err
	}
	if cfg.BuildTmpfs {
		// uid/gid are read in this user namespace: the builder's ids.
		opts := fmt.Sprintf("mode=0755,uid=%d,gid=%d", BuilderUID, BuilderGID)
		if err := os.MkdirAll(filepath.Join(root, BuildDir), 0o755); err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", filepath.Join(root, BuildDir), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return fmt.Errorf("mount %s: %w", BuildDir, err)
		}
	}
	if err := setupDev(root); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", filepath.Join(root, "tmp"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount /tmp: %w", err)
	}
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	// pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the new root.
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir new root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	// The root itself is read-only: the builder writes only to /build, /tmp, /dev/shm and $out.
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("remount / read-only: %w", err)
	}
	if err := unix.Chdir(BuildDir); err != nil {
		return fmt.Errorf("chdir %s: %w", BuildDir, err)
	}
	var goByte [1]byte
	if _, err := io.ReadFull(cfgFile, goByte[:]); err != nil || goByte[0] != goSignal {
		return fmt.Errorf("parent did not confirm the cgroup limits (%v)", err)
	}
	cfgFile.Close()
	// Drop to the unprivileged builder: changing uid from 0 clears every capability, so the
	// builder cannot remount its inputs writable or undo anything above.
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(BuilderGID, BuilderGID, BuilderGID); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setresuid(BuilderUID, BuilderUID, BuilderUID); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	// Changing credentials cleared the parent-death signal; the build must die with its parent.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("pdeathsig: %w", err)
	}
	if err := unix.Exec(cfg.Builder, cfg.Argv, cfg.Env); err != nil {
		return fmt.Errorf("exec builder %s: %w", cfg.Builder, err)
	}
	return nil
}

func bindMount(src, dst string, writable bool) error { return bindMountFlags(src, dst, writable, true) }

// bindMountFlags binds src at dst; nodev is false only for the device nodes of /dev.
func bindMountFlags(src, dst string, writable, nodev bool) error {
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	if st.IsDir() {
		err = os.MkdirAll(dst, 0o755)
	} else {
		if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
			var f *os.File
			if f, err = os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.Close()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("bind target %s: %w", dst, err)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_NOSUID)
	if nodev {
		flags |= unix.MS_NODEV
	}
	if !writable {
		flags |= unix.MS_RDONLY
	}
	// Flags the host mount already has are locked in a user namespace: keep them or remount fails.
	var sfs unix.Statfs_t
	if err := unix.Statfs(dst, &sfs); err == nil {
		if sfs.Flags&unix.ST_NOEXEC != 0 {
			flags |= unix.MS_NOEXEC
		}
		if sfs.Flags&unix.ST_RDONLY != 0 {
			flags |= unix.MS_RDONLY
		}
		if sfs.Flags&unix.ST_NOATIME != 0 {
			flags |= unix.MS_NOATIME
		}
		if sfs.Flags&unix.ST_NODIRATIME != 0 {
			flags |= unix.MS_NODIRATIME
		}
		if sfs.Flags&unix.ST_RELATIME != 0 {
			flags |= unix.MS_RELATIME
		}
	}
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return fmt.Errorf("remount %s (ro=%v): %w", dst, !writable, err)
	}
	return nil
}

// setupDev gives the build the usual harmless devices and nothing else.
func setupDev(root string) error {
	dev := filepath.Join(root, "dev")
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	// Device nodes cannot be created in a user namespace; bind the host's.
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if n == "tty" {
			if _, err := os.Stat("/dev/tty"); err != nil {
				continue // some CI containers have none; builds must not need it anyway
			}
		}
		if err := bindMountFlags("/dev/"+n, filepath.Join(dev, n), true, false); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	if err := unix.Mount("shm", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

// FetchEtc are the host files a host-network (fixed-output) build gets copied into its /etc,
// as Nix gives fixed-output builds the host's resolv.conf and services: a fetch by host name
// needs DNS, and one over https the CA bundle (Debian's path, where Go and OpenSSL look).
// What they fetch is checked against the declared CID, so these host details cannot leak into
// an output unnoticed. Missing host files are skipped.
var FetchEtc = []string{"resolv.conf", "services", "ssl/certs/ca-certificates.crt"}

func writeEtc(root string, hostNet bool) error {
	files := map[string]string{
		"passwd": fmt.Sprintf("root:x:0:0:Nix build user:%s:/noshell\nnixbld:x:%d:%d:Nix build user:%s:/noshell\nnobody:x:65534:65534:Nobody:/:/noshell\n", BuildDir, BuilderUID, BuilderGID, HomeDir),
		"group":  fmt.Sprintf("root:x:0:\nnixbld:!:%d:\nnogroup:x:65534:\n", BuilderGID),
		"hosts":  "127.0.0.1 localhost\n::1 localhost\n",
	}
	if hostNet {
		for _, name := range FetchEtc {
			// Read before pivot_root: this mount namespace still sees the host's /etc.
			data, err := os.ReadFile(filepath.Join("/etc", name))
			if err != nil {
				continue
			}
			files[name] = string(data)
		}
	}
	for name, content := range files {
		p := filepath.Join(root, "etc", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write /etc/%s: %w", name, err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			return fmt.Errorf("write /etc/%s: %w", name, err)
		}
	}
	return nil
}

// loopbackUp sets IFF_UP on lo, the only interface of the new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	var ifr [unix.IFNAMSIZ + 24]byte
	copy(ifr[:], "lo")
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return fmt.Errorf("get lo flags: %w", e)
	}
	flags := *(*uint16)(unsafe.Pointer(&ifr[unix.IFNAMSIZ]))
	*(*uint16)(unsafe.Pointer(&ifr[unix.IFNAMSIZ])) = flags | unix.IFF_UP | unix.IFF_RUNNING
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return fmt.Errorf("set lo up: %w", e)
	}
	return nil
}
