package derivation

import (
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

func nixDrv(t *testing.T) (*Derivation, cid.Cid, cid.Cid) {
	t.Helper()
	src, _ := cid.Decode("bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	dep := &Derivation{Name: "dep", Builder: "/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-busybox/bin/sh", System: "x86_64-linux", Outputs: []string{"out"},
		Inputs: []Input{{CID: src}}, Env: map[string]string{"out": "/nix/store/0fcp9vm2ny20i1bwwgqnzgicqhd110yf-dep"},
		Nix: &NixLayout{DrvPath: "/nix/store/785q477sn2gdb9cymlsyn5vdhhk4bv16-dep.drv", Out: "/nix/store/0fcp9vm2ny20i1bwwgqnzgicqhd110yf-dep",
			Paths: map[string]string{"/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-busybox": src.String()}}}
	_, depCID, err := dep.Block()
	if err != nil {
		t.Fatal(err)
	}
	ref := Input{Drv: depCID, Output: "out"}
	d := &Derivation{Name: "top", Builder: dep.Builder, System: "x86_64-linux", Outputs: []string{"out"},
		Inputs: []Input{{CID: src}, ref}, Env: map[string]string{"out": "/nix/store/skhldpg1z3rp13gq5y3dsax4qqvsmsw8-top", "weird-name": "x"},
		Nix: &NixLayout{DrvPath: "/nix/store/bl6bpvmh8zhdhqlcwgh02kvmr8kpqmzv-top.drv", Out: "/nix/store/skhldpg1z3rp13gq5y3dsax4qqvsmsw8-top",
			Paths: map[string]string{"/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-busybox": src.String(), "/nix/store/0fcp9vm2ny20i1bwwgqnzgicqhd110yf-dep": ref.String()}}}
	return d, src, depCID
}

// TestNixLayout: a derivation with a Nix layout encodes canonically, decodes to itself,
// resolves its paths with its inputs, and is refused when the layout does not fit.
func TestNixLayout(t *testing.T) {
	d, _, depCID := nixDrv(t)
	data, c, err := d.Block()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"nix":{"drvPath":"/nix/store/bl6bpvmh8zhdhqlcwgh02kvmr8kpqmzv-top.drv","out":`) {
		t.Fatalf("encoding: %s", data)
	}
	back, err := DecodeBlock(c, data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Nix.Paths["/nix/store/0fcp9vm2ny20i1bwwgqnzgicqhd110yf-dep"] != depCID.String()+"!out" {
		t.Fatalf("decoded paths %v", back.Nix.Paths)
	}
	out, _ := cid.Decode("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")
	r, err := d.Resolve(map[string]cid.Cid{depCID.String() + "!out": out})
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := r.NixMounts()
	if err != nil || len(mounts) != 2 || mounts[0][1] != out.String() {
		t.Fatalf("mounts %v %v", mounts, err)
	}
	if _, err := d.NixMounts(); !errors.Is(err, ErrUnresolved) {
		t.Fatalf("unresolved mounts: %v", err)
	}
	for name, edit := range map[string]func(d *Derivation){
		"out env":         func(d *Derivation) { d.Env["out"] = "/nix/store/x" },
		"path not input":  func(d *Derivation) { d.Nix.Paths["/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-busybox"] = out.String() },
		"input no path":   func(d *Derivation) { delete(d.Nix.Paths, "/nix/store/0fcp9vm2ny20i1bwwgqnzgicqhd110yf-dep") },
		"builder outside": func(d *Derivation) { d.Builder = "/bin/sh" },
		"bad drv path":    func(d *Derivation) { d.Nix.DrvPath = "/nix/store/short.drv" },
		"out name":        func(d *Derivation) { d.Name = "other" },
	} {
		d, _, _ := nixDrv(t)
		edit(d)
		if err := d.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
