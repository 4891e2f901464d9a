package derivation

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
)

// NixStoreDir is where a derivation with a Nix layout sees its inputs and writes its output.
const NixStoreDir = "/nix/store"

// NixLayout makes a derivation build in Nix's layout (docs/NIX.md): each input mounted at its
// Nix store path instead of /ipfs/store/{cid}, the output written at the Nix output path the
// .drv declares (known before the build, so there are no self-references to rewrite), and the
// environment Nix gives a build. `buildchaind nix import` writes it; it is part of the
// derivation's CID, so the chain's claim on the derivation also fixes the Nix paths.
type NixLayout struct {
	// DrvPath is the .drv this derivation was imported from (/nix/store/{hash}-{name}.drv).
	DrvPath string
	// Out is the Nix store path of the output "out".
	Out string
	// Paths maps the Nix store path of every input (the inputs' whole closure: a build sees
	// exactly these in /nix/store) to the input it is, written as Input.String() (a CID, or
	// {drv}!{output}). Two Nix paths may hold the same bytes, hence the same input.
	Paths map[string]string
}

// Nix store path syntax, as node/nix/storepath checks it in full (this package does no I/O and
// imports nothing of node/nix).
func validNixPath(p string) bool {
	rest, ok := strings.CutPrefix(p, NixStoreDir+"/")
	if !ok || len(rest) < 34 || rest[32] != '-' || strings.ContainsAny(rest, "/\x00") {
		return false
	}
	for i := 0; i < 32; i++ {
		if !strings.ContainsRune("0123456789abcdfghijklmnpqrsvwxyz", rune(rest[i])) {
			return false
		}
	}
	return true
}

// validateNix checks a derivation with a Nix layout (instead of the /ipfs/store rules for
// builder and env).
func (d *Derivation) validateNix() error {
	n := d.Nix
	if !validNixPath(n.DrvPath) || !strings.HasSuffix(n.DrvPath, ".drv") {
		return invalid("nix.drvPath %q is not a .drv store path", n.DrvPath)
	}
	if !validNixPath(n.Out) || !strings.HasSuffix(n.Out, "-"+d.Name) {
		return invalid("nix.out %q is not a store path named %q", n.Out, d.Name)
	}
	if d.Env["out"] != n.Out {
		return invalid("env out is %q, want nix.out %s", d.Env["out"], n.Out)
	}
	keys := map[string]bool{}
	for _, in := range d.Inputs {
		keys[in.String()] = true
	}
	used := map[string]bool{}
	for p, k := range n.Paths {
		if !validNixPath(p) {
			return invalid("nix.paths: %q is not a Nix store path", p)
		}
		if p == n.Out {
			return invalid("nix.paths: %s is the output path", p)
		}
		if !keys[k] {
			return invalid("nix.paths: %s is %q, which is not an input", p, k)
		}
		used[k] = true
	}
	for k := range keys {
		if !used[k] {
			return invalid("input %s has no Nix store path in nix.paths", k)
		}
	}
	for k := range d.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return invalid("env name %q", k)
		}
	}
	if !path.IsAbs(d.Builder) || path.Clean(d.Builder) != d.Builder {
		return invalid("builder %q is not a clean absolute path", d.Builder)
	}
	for p := range n.Paths {
		if d.Builder == p || strings.HasPrefix(d.Builder, p+"/") {
			return nil
		}
	}
	return invalid("builder %q is not inside an input (%s/{hash}-{name}/...)", d.Builder, NixStoreDir)
}

// NixMounts lists (Nix store path, input CID) of a resolved derivation, sorted by path.
func (d *Derivation) NixMounts() ([][2]string, error) {
	var out [][2]string
	for p, k := range d.Nix.Paths {
		c, err := cid.Decode(k)
		if err != nil {
			return nil, fmt.Errorf("%w: nix.paths %s is %q, not a store CID", ErrUnresolved, p, k)
		}
		out = append(out, [2]string{p, c.String()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// resolveNix re-keys nix.paths from input refs to the CIDs they resolved to.
func (n *NixLayout) resolve(outputs map[string]cid.Cid) *NixLayout {
	r := &NixLayout{DrvPath: n.DrvPath, Out: n.Out, Paths: map[string]string{}}
	for p, k := range n.Paths {
		if c, ok := outputs[k]; ok {
			k = c.String()
		}
		r.Paths[p] = k
	}
	return r
}

func (n *NixLayout) assemble(na datamodel.NodeAssembler) error {
	ma, err := na.BeginMap(3)
	if err != nil {
		return err
	}
	put := func(k, v string) error {
		if err := ma.AssembleKey().AssignString(k); err != nil {
			return err
		}
		return ma.AssembleValue().AssignString(v)
	}
	if err := put("drvPath", n.DrvPath); err != nil {
		return err
	}
	if err := put("out", n.Out); err != nil {
		return err
	}
	if err := ma.AssembleKey().AssignString("paths"); err != nil {
		return err
	}
	keys := make([]string, 0, len(n.Paths))
	for k := range n.Paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pm, err := ma.AssembleValue().BeginMap(int64(len(keys)))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := pm.AssembleKey().AssignString(k); err != nil {
			return err
		}
		if err := pm.AssembleValue().AssignString(n.Paths[k]); err != nil {
			return err
		}
	}
	if err := pm.Finish(); err != nil {
		return err
	}
	return ma.Finish()
}

func nixLayout(v datamodel.Node) (*NixLayout, error) {
	if v.Kind() != datamodel.Kind_Map {
		return nil, invalid("nix must be an object, got %s", v.Kind())
	}
	n := &NixLayout{}
	it := v.MapIterator()
	for !it.Done() {
		k, e, err := it.Next()
		if err != nil {
			return nil, invalid("nix: %v", err)
		}
		ks, _ := k.AsString()
		switch ks {
		case "drvPath":
			n.DrvPath, err = str("nix.drvPath", e)
		case "out":
			n.Out, err = str("nix.out", e)
		case "paths":
			n.Paths, err = strMap("nix.paths", e)
		default:
			err = invalid("nix: unknown field %q", ks)
		}
		if err != nil {
			return nil, err
		}
	}
	if n.Paths == nil {
		n.Paths = map[string]string{}
	}
	return n, nil
}
