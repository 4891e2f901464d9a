package derivation

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mc "github.com/multiformats/go-multicodec"
	mh "github.com/multiformats/go-multihash"

	"github.com/buildchain/buildchain/node/block"
)

// StorePrefix is where every store path lives inside a build.
const StorePrefix = "/ipfs/store/"

// Systems this code knows. A derivation naming another system is rejected; whether this machine
// can build a known system is the builder's business.
var Systems = []string{"aarch64-linux", "i686-linux", "riscv64-linux", "x86_64-linux"}

// Errors; each validation failure wraps one so callers (and tests) can tell them apart.
var (
	ErrInvalid      = errors.New("invalid derivation")
	ErrNonCanonical = errors.New("derivation is not in canonical DAG-JSON form")
	ErrUnresolved   = errors.New("derivation has unresolved inputs")
	// ErrOutputHash: a fixed-output derivation's outputHash is not the CID of a store path.
	ErrOutputHash = errors.New("malformed outputHash")
)

// Input is either a store path (CID set, Drv undefined) or an output of another derivation
// (Drv and Output set), written {"drv": "<cid>", "output": "out"}.
type Input struct {
	CID    cid.Cid
	Drv    cid.Cid
	Output string
}

// IsRef tells whether the input names a derivation output.
func (in Input) IsRef() bool { return in.Drv.Defined() }

func (in Input) String() string {
	if in.IsRef() {
		return fmt.Sprintf("%s!%s", in.Drv, in.Output)
	}
	return in.CID.String()
}

// Derivation is the decoded form. Field order below is the canonical (lexical) key order.
type Derivation struct {
	Args    []string
	Builder string
	Env     map[string]string
	Inputs  []Input
	Name    string
	// Nix, when set, builds the derivation in Nix's layout (nix.go). Written "nix" only when
	// set, so other derivations keep their encoding and CID.
	Nix *NixLayout
	// OutputHash, when set, makes this a fixed-output derivation (Nix's outputHash): the CID
	// its output must have, declared in advance. Only such a build may use the network (it
	// fetches sources); a different output fails the build. Written "outputHash" only when
	// set, so other derivations keep their encoding and CID.
	OutputHash cid.Cid
	Outputs    []string
	System     string
}

// Fixed tells whether the derivation declares its output CID in advance.
func (d *Derivation) Fixed() bool { return d.OutputHash.Defined() }

// ParseOutputHash reads the outputHash of a fixed-output derivation: a CIDv1 (base32) of a
// store path (dag-pb or raw, sha2-256), as `store add` prints it.
func ParseOutputHash(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %q is not a CID: %v", ErrOutputHash, s, err)
	}
	if c.String() != s {
		return cid.Undef, fmt.Errorf("%w: %q: write it as CIDv1 base32 (%s)", ErrOutputHash, s, c)
	}
	if err := checkOutputHash(c); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

func checkOutputHash(c cid.Cid) error {
	p := c.Prefix()
	if p.Version != 1 || (p.Codec != uint64(mc.DagPb) && p.Codec != uint64(mc.Raw)) || p.MhType != mh.SHA2_256 {
		return fmt.Errorf("%w: %s is not the CID of a store path (want CIDv1, dag-pb or raw, sha2-256)", ErrOutputHash, c)
	}
	return nil
}

// Ref returns the placeholder a derivation uses, in builder, args or env, for the store path of
// an input derivation's output; resolution replaces it with /ipfs/store/{output cid}.
func Ref(drv cid.Cid, output string) string { return "{{drv:" + drv.String() + ":" + output + "}}" }

var (
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9+_?=-][A-Za-z0-9+._?=-]*$`)
	envKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	refRe    = regexp.MustCompile(`\{\{drv:([a-z2-7]+):([A-Za-z0-9_-]+)\}\}`)
)

// reservedEnv are set by the sandbox for every build (docs/ARCHITECTURE.md §Derivations and builds); a derivation may not set them.
var reservedEnv = map[string]bool{"out": true, "HOME": true, "TZ": true, "SOURCE_DATE_EPOCH": true, "TMPDIR": true, "NIX_BUILD_TOP": true}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Validate checks everything that can be checked without the store.
func (d *Derivation) Validate() error {
	if d.Name == "" {
		return invalid("missing name")
	}
	if len(d.Name) > 211 || !nameRe.MatchString(d.Name) {
		return invalid("name %q: use letters, digits and +-._?= (not starting with '.'), at most 211 bytes", d.Name)
	}
	if d.Builder == "" {
		return invalid("missing builder")
	}
	if d.Nix != nil {
		if err := d.validateNix(); err != nil {
			return err
		}
	} else if !path.IsAbs(d.Builder) || path.Clean(d.Builder) != d.Builder {
		return invalid("builder %q is not a clean absolute path", d.Builder)
	}
	if d.System == "" {
		return invalid("missing system")
	}
	if i := sort.SearchStrings(Systems, d.System); i == len(Systems) || Systems[i] != d.System {
		return invalid("unknown system %q (known: %s)", d.System, strings.Join(Systems, ", "))
	}
	if d.Fixed() {
		if err := checkOutputHash(d.OutputHash); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	if len(d.Outputs) != 1 || d.Outputs[0] != "out" {
		return invalid("outputs must be [\"out\"] (multiple outputs are not supported), got %q", d.Outputs)
	}
	seen := map[string]bool{}
	for i, in := range d.Inputs {
		key := in.String()
		if seen[key] {
			return invalid("input %d (%s) listed twice", i, key)
		}
		seen[key] = true
		if in.IsRef() {
			if in.Drv.Prefix().Codec != uint64(mc.DagJson) {
				return invalid("input %d: drv %s is not a dag-json CID", i, in.Drv)
			}
			if in.Output == "" {
				return invalid("input %d: drv %s without output name", i, in.Drv)
			}
			continue
		}
		if !in.CID.Defined() {
			return invalid("input %d is empty", i)
		}
		if codec := in.CID.Prefix().Codec; codec != uint64(mc.DagPb) && codec != uint64(mc.Raw) {
			return invalid("input %d: %s is not a store path (codec %s)", i, in.CID, mc.Code(codec))
		}
	}
	for k := range d.Env {
		if d.Nix != nil {
			break // validateNix: Nix's env is the .drv's, out included
		}
		if !envKeyRe.MatchString(k) {
			return invalid("env name %q", k)
		}
		if reservedEnv[k] {
			return invalid("env %q is set by the sandbox and may not be set by a derivation", k)
		}
	}
	// Every placeholder must name an input ref, so resolution can replace all of them.
	for _, s := range d.strings() {
		for _, m := range refRe.FindAllStringSubmatch(s, -1) {
			c, err := cid.Decode(m[1])
			if err != nil || !seen[fmt.Sprintf("%s!%s", c, m[2])] {
				return invalid("%s does not name an input of this derivation", m[0])
			}
		}
	}
	// The builder must live in an input: nothing from the host is reachable in the sandbox.
	if d.Nix == nil && !d.inInputs(d.Builder) {
		return invalid("builder %q is not inside an input (%s{cid}/... or %s)", d.Builder, StorePrefix, Ref(cid.Undef, "out"))
	}
	return nil
}

func (d *Derivation) inInputs(p string) bool {
	for _, in := range d.Inputs {
		prefix := StorePrefix + in.CID.String()
		if in.IsRef() {
			prefix = Ref(in.Drv, in.Output)
		}
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

func (d *Derivation) strings() []string {
	out := append([]string{d.Builder}, d.Args...)
	for _, v := range d.Env {
		out = append(out, v)
	}
	return out
}

// Resolved tells whether every input is a store CID.
func (d *Derivation) Resolved() bool {
	for _, in := range d.Inputs {
		if in.IsRef() {
			return false
		}
	}
	return true
}

// Refs lists the derivations this one depends on, in input order.
func (d *Derivation) Refs() []Input {
	var out []Input
	for _, in := range d.Inputs {
		if in.IsRef() {
			out = append(out, in)
		}
	}
	return out
}

// Resolve returns a copy whose ref inputs are replaced by the store CIDs in outputs (keyed by
// Input.String()) and whose placeholders are replaced by /ipfs/store/{cid}.
func (d *Derivation) Resolve(outputs map[string]cid.Cid) (*Derivation, error) {
	r := &Derivation{Name: d.Name, System: d.System, OutputHash: d.OutputHash, Outputs: append([]string(nil), d.Outputs...)}
	if d.Nix != nil {
		r.Nix = d.Nix.resolve(outputs)
	}
	repl := map[string]string{}
	have := map[cid.Cid]bool{}
	for _, in := range d.Inputs {
		c := in.CID
		if in.IsRef() {
			var ok bool
			if c, ok = outputs[in.String()]; !ok {
				return nil, fmt.Errorf("%w: no output for %s", ErrUnresolved, in)
			}
			repl[Ref(in.Drv, in.Output)] = StorePrefix + c.String()
		}
		// Two refs may resolve to the same output: list it once.
		if !have[c] {
			have[c] = true
			r.Inputs = append(r.Inputs, Input{CID: c})
		}
	}
	subst := func(s string) string {
		return refRe.ReplaceAllStringFunc(s, func(m string) string {
			if v, ok := repl[m]; ok {
				return v
			}
			return m
		})
	}
	r.Builder = subst(d.Builder)
	for _, a := range d.Args {
		r.Args = append(r.Args, subst(a))
	}
	if d.Env != nil {
		r.Env = map[string]string{}
		for k, v := range d.Env {
			r.Env[k] = subst(v)
		}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// Encode returns the canonical DAG-JSON bytes.
func (d *Derivation) Encode() ([]byte, error) {
	nb := basicnode.Prototype.Map.NewBuilder()
	n := int64(7)
	if d.Fixed() {
		n++
	}
	if d.Nix != nil {
		n++
	}
	ma, err := nb.BeginMap(n)
	if err != nil {
		return nil, err
	}
	put := func(k string, f func(na datamodel.NodeAssembler) error) {
		if err != nil {
			return
		}
		if err = ma.AssembleKey().AssignString(k); err == nil {
			err = f(ma.AssembleValue())
		}
	}
	strList := func(ss []string) func(datamodel.NodeAssembler) error {
		return func(na datamodel.NodeAssembler) error {
			la, err := na.BeginList(int64(len(ss)))
			if err != nil {
				return err
			}
			for _, s := range ss {
				if err := la.AssembleValue().AssignString(s); err != nil {
					return err
				}
			}
			return la.Finish()
		}
	}
	str := func(s string) func(datamodel.NodeAssembler) error {
		return func(na datamodel.NodeAssembler) error { return na.AssignString(s) }
	}
	put("args", strList(d.Args))
	put("builder", str(d.Builder))
	put("env", func(na datamodel.NodeAssembler) error {
		keys := make([]string, 0, len(d.Env))
		for k := range d.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m, err := na.BeginMap(int64(len(keys)))
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := m.AssembleKey().AssignString(k); err != nil {
				return err
			}
			if err := m.AssembleValue().AssignString(d.Env[k]); err != nil {
				return err
			}
		}
		return m.Finish()
	})
	put("inputs", func(na datamodel.NodeAssembler) error {
		la, err := na.BeginList(int64(len(d.Inputs)))
		if err != nil {
			return err
		}
		for _, in := range d.Inputs {
			va := la.AssembleValue()
			if !in.IsRef() {
				if err := va.AssignString(in.CID.String()); err != nil {
					return err
				}
				continue
			}
			m, err := va.BeginMap(2)
			if err != nil {
				return err
			}
			for _, kv := range [][2]string{{"drv", in.Drv.String()}, {"output", in.Output}} {
				if err := m.AssembleKey().AssignString(kv[0]); err != nil {
					return err
				}
				if err := m.AssembleValue().AssignString(kv[1]); err != nil {
					return err
				}
			}
			if err := m.Finish(); err != nil {
				return err
			}
		}
		return la.Finish()
	})
	put("name", str(d.Name))
	if d.Nix != nil {
		put("nix", d.Nix.assemble)
	}
	if d.Fixed() {
		put("outputHash", str(d.OutputHash.String()))
	}
	put("outputs", strList(d.Outputs))
	put("system", str(d.System))
	if err != nil {
		return nil, err
	}
	if err := ma.Finish(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := dagjson.Encode(nb.Build(), &buf); err != nil {
		return nil, fmt.Errorf("encode dag-json: %w", err)
	}
	return buf.Bytes(), nil
}

// CIDOf hashes canonical bytes: CIDv1, codec dag-json, sha2-256.
func CIDOf(canonical []byte) (cid.Cid, error) {
	sum, err := mh.Sum(canonical, mh.SHA2_256, -1)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(uint64(mc.DagJson), sum), nil
}

// Block validates d and returns its canonical bytes and CID.
func (d *Derivation) Block() ([]byte, cid.Cid, error) {
	if err := d.Validate(); err != nil {
		return nil, cid.Undef, err
	}
	b, err := d.Encode()
	if err != nil {
		return nil, cid.Undef, err
	}
	c, err := CIDOf(b)
	return b, c, err
}

// Parse reads a derivation written by a person: any JSON whitespace and key order, but exact
// field names, no unknown or duplicate fields, and a valid derivation.
func Parse(data []byte) (*Derivation, error) {
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dagjson.Decode(nb, bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%w: not DAG-JSON: %v", ErrInvalid, err)
	}
	d, err := fromNode(nb.Build())
	if err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// Decode reads a derivation block: it must be valid and byte-for-byte canonical, so that one
// derivation has exactly one CID.
func Decode(data []byte) (*Derivation, error) {
	d, err := Parse(data)
	if err != nil {
		return nil, err
	}
	canon, err := d.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, data) {
		return nil, fmt.Errorf("%w: expected %d bytes %.80q…, got %.80q…", ErrNonCanonical, len(canon), canon, data)
	}
	return d, nil
}

// DecodeBlock decodes data and checks that it hashes to c.
func DecodeBlock(c cid.Cid, data []byte) (*Derivation, error) {
	if c.Prefix().Codec != uint64(mc.DagJson) {
		return nil, fmt.Errorf("%w: %s is not a dag-json CID", ErrInvalid, c)
	}
	if err := block.Verify(c, data); err != nil {
		return nil, err
	}
	return Decode(data)
}

// OutMark stands for the build's own output directory in the arguments a front end
// (node/gobuild, node/cargobuild) writes into a builder's shell script: ShellQuote turns it
// into "$out", which the sandbox sets.
const OutMark = "@OUT@"

// ShellQuote quotes s as one word for the builder's sh; each OutMark in it becomes "$out"
// (expanded by the shell), everything else is literal.
func ShellQuote(s string) string {
	if strings.Contains(s, OutMark) {
		parts := strings.Split(s, OutMark)
		for i, p := range parts {
			parts[i] = ShellQuote(p)
		}
		return strings.Join(parts, `"$out"`)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
