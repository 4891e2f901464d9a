package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// A started init: namespaces created, ids mapped, Go runtime up, blocked reading its config.
//
// Starting the init is most of a sandbox's start-up cost, and most of that is the Go runtime and
// package initialisation of the re-executed binary (about 2 ms for a small binary, ~50 ms for a
// binary linking the Cosmos SDK, CometBFT and libp2p). So after the first build a process keeps
// one init started in advance (a warm spare, like a zygote) and the next build only pays for its
// mounts and the builder itself. A spare is used by at most one build; an idle spare costs one
// sleeping process and dies with its parent (PDEATHSIG).
type started struct {
	cmd      *exec.Cmd
	cfgW     *os.File // fdConfig of the init
	errR     *os.File // fdErr of the init
	out      *switchWriter
	uid, gid int
	hostNet  bool    // shares the host's network namespace (fixed-output builds only)
	cg       *cgroup // the build's cgroups, joined already; limits are set when used
}

// switchWriter lets a spare's stdout/stderr be pointed at the build's log once it is used.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// hostNetArg is argv[1] of an init that shares the host's network namespace: it has no
// loopback of its own to bring up.
const hostNetArg = "hostnet"

func startInit(hostUID, hostGID int, hostNet bool) (*started, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, err
	}
	out := &switchWriter{}
	args := []string{initArg0}
	cloneflags := uintptr(syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC)
	if hostNet {
		// A fixed-output build may fetch (its output is checked against the declared CID,
		// as Nix does for outputHash): it stays in the host's network namespace.
		args = append(args, hostNetArg)
		cloneflags &^= syscall.CLONE_NEWNET
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       args,
		Env:        []string{},
		Stdout:     out,
		Stderr:     out,
		ExtraFiles: []*os.File{cfgR, errW},
		SysProcAttr: &syscall.SysProcAttr{
			// No CLONE_NEWNS here: the init unshares its mount namespace only when it gets its
			// config. A spare that copied the host's mounts at clone time would pin every one
			// of them (a FUSE store could then never finish unmounting while a spare waits).
			Cloneflags: cloneflags,
			// uid 0 inside is host root so the init can reach and bind the host paths it is
			// given; the builder runs as 1000 -> hostUID after the init dropped to it.
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: BuilderUID, HostID: hostUID, Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: BuilderGID, HostID: hostGID, Size: 1}},
			GidMappingsEnableSetgroups: true, // the init drops its supplementary groups
			Pdeathsig:                  syscall.SIGKILL,
		},
	}
	err = cmd.Start()
	cfgR.Close()
	errW.Close()
	if err != nil {
		cfgW.Close()
		errR.Close()
		return nil, fmt.Errorf("%w: start init: %v", ErrSetup, err)
	}
	st := &started{cmd: cmd, cfgW: cfgW, errR: errR, out: out, uid: hostUID, gid: hostGID, hostNet: hostNet}
	// Wait until the init is really up (the Go runtime and package initialisation of a large
	// binary take tens of milliseconds after exec): only then is a spare worth waiting for.
	var ready [1]byte
	if _, err := io.ReadFull(errR, ready[:]); err != nil || ready[0] != readySignal {
		msg, _ := io.ReadAll(errR)
		st.discard()
		return nil, fmt.Errorf("%w: init did not start: %s%s (%v)", ErrSetup, ready[:], msg, err)
	}
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	// The init blocks reading its config until a build takes it, so it joins its cgroups
	// before it can run anything of a build.
	if st.cg, err = newCgroup(cgroupName(hex.EncodeToString(idb[:]))); err == nil {
		err = st.cg.join(cmd.Process.Pid)
	}
	if err != nil {
		st.discard()
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	return st, nil
}

// discard kills an init that will not be used.
func (s *started) discard() {
	_ = s.cmd.Process.Kill()
	s.cfgW.Close()
	s.errR.Close()
	_ = s.cmd.Wait()
	if s.cg != nil {
		_ = s.cg.remove()
	}
}

var spares = struct {
	sync.Mutex
	cond     *sync.Cond
	disabled bool
	s        *started
	starting bool
}{}

func init() { spares.cond = sync.NewCond(&spares.Mutex) }

// SetSpare turns the warm spare init on (the default) or off. Off also kills an idle spare.
func SetSpare(on bool) {
	spares.Lock()
	for spares.starting {
		spares.cond.Wait()
	}
	spares.disabled = !on
	s := spares.s
	if !on {
		spares.s = nil
	}
	spares.Unlock()
	if s != nil && !on {
		s.discard()
	}
}

// WaitSpare blocks until no spare is being started (for benchmarks that measure the warm path).
func WaitSpare() {
	spares.Lock()
	for spares.starting {
		spares.cond.Wait()
	}
	spares.Unlock()
}

// Prewarm starts a spare init in the background (if spares are on and there is none), so that
// even the first build of a process finds one: call it when a build is likely soon (e.g. when
// a builder is created); a build that comes first just waits for it.
func Prewarm() {
	if os.Geteuid() != 0 {
		return // Run will say why it cannot work
	}
	spares.Lock()
	defer spares.Unlock()
	if spares.disabled || spares.starting || spares.s != nil {
		return
	}
	spares.starting = true
	go refill(DefaultHostUID, DefaultHostGID)
}

// takeHostNetInit starts an init in the host's network namespace. Such builds are rare
// (fetches), so no spare is kept for them.
func takeHostNetInit(hostUID, hostGID int) (*started, error) {
	return startInit(hostUID, hostGID, true)
}

// takeInit returns the spare if it fits (waiting for one being started: that is never slower
// than starting another), else starts an init; then it starts the next spare in the background.
func takeInit(hostUID, hostGID int) (*started, error) {
	spares.Lock()
	for spares.starting && spares.s == nil {
		spares.cond.Wait()
	}
	s := spares.s
	spares.s = nil
	disabled := spares.disabled
	spares.Unlock()
	if s != nil && (s.uid != hostUID || s.gid != hostGID || !alive(s.cmd.Process.Pid)) {
		go s.discard()
		s = nil
	}
	if s == nil {
		var err error
		if s, err = startInit(hostUID, hostGID, false); err != nil {
			return nil, err
		}
	}
	if !disabled {
		spares.Lock()
		if !spares.starting && spares.s == nil {
			spares.starting = true
			go refill(hostUID, hostGID)
		}
		spares.Unlock()
	}
	return s, nil
}

func refill(hostUID, hostGID int) {
	s, err := startInit(hostUID, hostGID, false)
	spares.Lock()
	spares.starting = false
	spares.cond.Broadcast()
	if err != nil || spares.s != nil || spares.disabled {
		spares.Unlock()
		if s != nil {
			s.discard()
		}
		return
	}
	spares.s = s
	spares.Unlock()
}

// alive tells whether pid is a running (not zombie) process: a spare killed from outside must
// not be handed to a build.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}
