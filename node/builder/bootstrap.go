package builder

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/storefs"
)

// DefaultBusybox is where Debian's busybox-static puts its binary.
const DefaultBusybox = "/bin/busybox"

// BootstrapFile records the CID of the imported bootstrap tools in the state dir, so `drv add`
// can substitute @bootstrap@ in derivation files.
const BootstrapFile = "bootstrap"

// ImportBusybox imports a static busybox into the store as a plain input: a directory with
// bin/busybox and a bin/{applet} → busybox symlink for every applet it has, so derivations
// use /ipfs/store/{cid}/bin/sh. The same busybox binary always gives the same CID.
func (b *Builder) ImportBusybox(ctx context.Context, busybox, user string) (cid.Cid, error) {
	if busybox == "" {
		busybox = DefaultBusybox
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return cid.Undef, fmt.Errorf("bootstrap: read %s (install Debian busybox-static): %w", busybox, err)
	}
	if err := CheckStatic(data); err != nil {
		return cid.Undef, fmt.Errorf("bootstrap: %s: %w; use a static busybox (Debian busybox-static)", busybox, err)
	}
	list, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return cid.Undef, fmt.Errorf("bootstrap: %s --list: %w", busybox, err)
	}
	applets := strings.Fields(string(list))
	sort.Strings(applets)
	tmp, err := b.tempDir("bootstrap")
	if err != nil {
		return cid.Undef, err
	}
	defer removeAll(tmp)
	root := filepath.Join(tmp, "busybox")
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return cid.Undef, err
	}
	for _, d := range []string{root, bin} {
		if err := os.Chmod(d, 0o755); err != nil {
			return cid.Undef, err
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		return cid.Undef, err
	}
	if err := os.Chmod(filepath.Join(bin, "busybox"), 0o755); err != nil {
		return cid.Undef, err
	}
	for _, a := range applets {
		if a == "busybox" || strings.ContainsAny(a, "/\x00") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
			return cid.Undef, fmt.Errorf("bootstrap: applet %s: %w", a, err)
		}
	}
	c, err := b.store.AddPath(ctx, root, storefs.AddOptions{PreserveMode: true})
	if err != nil {
		return cid.Undef, fmt.Errorf("bootstrap: add: %w", err)
	}
	if user != "" {
		if err := b.store.Pin(user, "bootstrap", c); err != nil {
			return cid.Undef, fmt.Errorf("bootstrap: pin: %w", err)
		}
	}
	// A static binary and links to it: no references, nothing to scan.
	if err := b.store.SetReferences(c, nil); err != nil {
		return cid.Undef, err
	}
	if err := atomicfile.WriteFile(filepath.Join(b.cfg.StateDir, BootstrapFile), []byte(c.String()+"\n"), 0o644); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

// Bootstrap returns the CID recorded by the last ImportBusybox.
func (b *Builder) Bootstrap() (cid.Cid, error) {
	raw, err := os.ReadFile(filepath.Join(b.cfg.StateDir, BootstrapFile))
	if err != nil {
		return cid.Undef, fmt.Errorf("no bootstrap tools imported yet (run `buildchaind bootstrap`): %w", err)
	}
	return cid.Decode(strings.TrimSpace(string(raw)))
}

// ErrDynamic: a bootstrap binary that needs a dynamic loader (the host's libc is not in the sandbox).
var ErrDynamic = errors.New("dynamically linked")

// CheckStatic refuses a dynamically linked ELF (one with a program interpreter): it would need
// the host's libc in the sandbox. Bootstrap binaries must be static.
func CheckStatic(data []byte) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			interp := make([]byte, p.Filesz)
			_, _ = p.ReadAt(interp, 0)
			return fmt.Errorf("%w (program interpreter %s)", ErrDynamic, strings.TrimRight(string(interp), "\x00"))
		}
	}
	return nil
}
