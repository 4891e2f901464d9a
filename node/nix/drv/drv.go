// Package drv reads, writes and hashes Nix derivations (.drv files), in the ATerm form Nix 2.8
// writes (src/libstore/derivations.cc: parseDerivation, Derivation::unparse,
// hashDerivationModulo).
//
// Parse is strict: besides Nix's grammar it wants the canonical order Nix writes (outputs,
// input derivations, sources and env sorted, no duplicates), so a parsed derivation prints back
// to the same bytes and hashes to the same store paths. Every error says at which byte and what
// was expected, and wraps ErrSyntax or ErrInvalid.
//
// github.com/nix-community/go-nix has a derivation parser too; it does not undo escapes in
// arguments and the builder (a `\n` in an argument stays two characters), which changes what a
// build runs, so this package has its own. NAR, Nix base32 and narinfo come from go-nix.
package drv

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/buildchain/buildchain/node/nix/storepath"
)

// Errors; every parse or validation failure wraps one of them.
var (
	// ErrSyntax: the bytes are not a Nix ATerm derivation.
	ErrSyntax = errors.New("malformed Nix derivation")
	// ErrInvalid: well-formed, but not a derivation Nix would have written (unsorted, bad
	// store paths, an output path that does not match its hash...).
	ErrInvalid = errors.New("invalid Nix derivation")
	// ErrUnsupported: a derivation kind we do not build (content-addressed, multiple
	// outputs...), with the reason.
	ErrUnsupported = errors.New("unsupported Nix derivation")
)

// MaxSize bounds a .drv file (the largest in nixpkgs are a few hundred KiB).
const MaxSize = 64 << 20

// Output is one output: an input-addressed one has only Path; a fixed-output one also
// HashAlgo ("r:sha256" for a NAR hash, "sha256" for a flat file) and Hash (hex).
type Output struct {
	Name, Path, HashAlgo, Hash string
}

// InputDrv names outputs of another derivation this one is built with.
type InputDrv struct {
	Path    string
	Outputs []string
}

// EnvVar is one environment variable of the build.
type EnvVar struct{ Name, Value string }

// Derivation is a parsed .drv; slices are in the canonical (sorted) order.
type Derivation struct {
	Outputs   []Output
	InputDrvs []InputDrv
	InputSrcs []string
	System    string
	Builder   string
	Args      []string
	Env       []EnvVar
}

// Getenv returns the value of an env variable.
func (d *Derivation) Getenv(name string) (string, bool) {
	i := sort.Search(len(d.Env), func(i int) bool { return d.Env[i].Name >= name })
	if i < len(d.Env) && d.Env[i].Name == name {
		return d.Env[i].Value, true
	}
	return "", false
}

// Name is the derivation's name (env "name"), which every output path ends with.
func (d *Derivation) Name() string {
	n, _ := d.Getenv("name")
	return n
}

// Output returns the named output.
func (d *Derivation) Output(name string) (Output, bool) {
	for _, o := range d.Outputs {
		if o.Name == name {
			return o, true
		}
	}
	return Output{}, false
}

// FixedOutput tells whether the derivation declares its output's hash (Nix's fixed-output
// derivations: fetchers).
func (d *Derivation) FixedOutput() bool {
	return len(d.Outputs) == 1 && d.Outputs[0].Name == "out" && d.Outputs[0].HashAlgo != "" && d.Outputs[0].Hash != ""
}

// Validate checks what Nix checks of a derivation read from the store, plus the order Parse
// relies on.
func (d *Derivation) Validate() error {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	name := d.Name()
	if name == "" {
		return invalid("no env variable \"name\"")
	}
	if err := storepath.ValidateName(name); err != nil {
		return invalid("name: %v", err)
	}
	if len(d.Outputs) == 0 {
		return invalid("no outputs")
	}
	for i, o := range d.Outputs {
		if o.Name == "" {
			return invalid("output %d has no name", i)
		}
		if i > 0 && o.Name <= d.Outputs[i-1].Name {
			return invalid("outputs not sorted or repeated: %q after %q", o.Name, d.Outputs[i-1].Name)
		}
		if o.Path != "" {
			if err := storepath.Validate(o.Path); err != nil {
				return invalid("output %q: %v", o.Name, err)
			}
		}
		if (o.HashAlgo == "") != (o.Hash == "") && o.Path != "" {
			return invalid("output %q: hash algorithm %q with hash %q", o.Name, o.HashAlgo, o.Hash)
		}
	}
	for i, in := range d.InputDrvs {
		if err := storepath.Validate(in.Path); err != nil {
			return invalid("input derivation: %v", err)
		}
		if !strings.HasSuffix(in.Path, ".drv") {
			return invalid("input derivation %s does not end in .drv", in.Path)
		}
		if i > 0 && in.Path <= d.InputDrvs[i-1].Path {
			return invalid("input derivations not sorted or repeated: %s", in.Path)
		}
		if len(in.Outputs) == 0 {
			return invalid("input derivation %s names no outputs", in.Path)
		}
		for j, o := range in.Outputs {
			if o == "" || (j > 0 && o <= in.Outputs[j-1]) {
				return invalid("input derivation %s: outputs not sorted, repeated or empty: %q", in.Path, in.Outputs)
			}
		}
	}
	for i, s := range d.InputSrcs {
		if err := storepath.Validate(s); err != nil {
			return invalid("input source: %v", err)
		}
		if i > 0 && s <= d.InputSrcs[i-1] {
			return invalid("input sources not sorted or repeated: %s", s)
		}
	}
	if d.System == "" {
		return invalid("no system")
	}
	if d.Builder == "" {
		return invalid("no builder")
	}
	for i, e := range d.Env {
		if e.Name == "" {
			return invalid("empty env variable name")
		}
		if i > 0 && e.Name <= d.Env[i-1].Name {
			return invalid("env not sorted or repeated: %q after %q", e.Name, d.Env[i-1].Name)
		}
	}
	return nil
}

// CheckInputAddressed refuses what we cannot build yet, naming the reason: content-addressed
// outputs (__contentAddressed, an output without a path), structured attributes (__json) and
// more than one output.
func (d *Derivation) CheckInputAddressed() error {
	for _, o := range d.Outputs {
		if o.Path == "" {
			return fmt.Errorf("%w: output %q of %s is content-addressed (__contentAddressed): only input-addressed and fixed-output derivations are supported", ErrUnsupported, o.Name, d.Name())
		}
	}
	if _, ok := d.Getenv("__json"); ok {
		return fmt.Errorf("%w: %s uses structured attributes (__structuredAttrs)", ErrUnsupported, d.Name())
	}
	if len(d.Outputs) != 1 || d.Outputs[0].Name != "out" {
		names := make([]string, len(d.Outputs))
		for i, o := range d.Outputs {
			names[i] = o.Name
		}
		return fmt.Errorf("%w: %s has outputs %q: only a single output \"out\" is supported", ErrUnsupported, d.Name(), names)
	}
	return nil
}

// HashModulo is Nix's hashDerivationModulo: the hash that output paths are computed from
// (maskOutputs true) and that stands for this derivation in the derivations that use it (false).
// A fixed-output derivation hashes to its declared hash only, so changing how a source is
// fetched changes nothing downstream. inputHash returns HashModulo(input, false) of an input
// derivation (callers memoise it: the graph is a DAG with much sharing).
func (d *Derivation) HashModulo(maskOutputs bool, inputHash func(drvPath string) ([sha256.Size]byte, error)) ([sha256.Size]byte, error) {
	if d.FixedOutput() {
		o := d.Outputs[0]
		return sha256.Sum256([]byte("fixed:out:" + o.HashAlgo + ":" + o.Hash + ":" + o.Path)), nil
	}
	byHash := map[string][]string{}
	for _, in := range d.InputDrvs {
		h, err := inputHash(in.Path)
		if err != nil {
			return [sha256.Size]byte{}, fmt.Errorf("input %s: %w", in.Path, err)
		}
		k := fmt.Sprintf("%x", h)
		byHash[k] = mergeSorted(byHash[k], in.Outputs)
	}
	inputs := make([]InputDrv, 0, len(byHash))
	for k, outs := range byHash {
		inputs = append(inputs, InputDrv{Path: k, Outputs: outs})
	}
	sort.Slice(inputs, func(i, j int) bool { return inputs[i].Path < inputs[j].Path })
	return sha256.Sum256(d.unparse(maskOutputs, inputs)), nil
}

func mergeSorted(a, b []string) []string {
	set := map[string]bool{}
	for _, s := range append(append([]string(nil), a...), b...) {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Path is the store path of this derivation's .drv file (makeTextPath of its ATerm, with
// its input derivations and sources as references).
func (d *Derivation) Path() string {
	refs := append([]string(nil), d.InputSrcs...)
	for _, in := range d.InputDrvs {
		refs = append(refs, in.Path)
	}
	return storepath.Text(d.Name()+".drv", d.Bytes(), refs)
}

// CheckOutputPaths recomputes the path of every input-addressed output and checks it and the
// env variable of the same name against what the derivation declares, as Nix does before it
// builds (a .drv edited by hand would otherwise claim someone else's output path).
func (d *Derivation) CheckOutputPaths(inputHash func(drvPath string) ([sha256.Size]byte, error)) error {
	var h [sha256.Size]byte
	if !d.FixedOutput() {
		var err error
		if h, err = d.HashModulo(true, inputHash); err != nil {
			return err
		}
	}
	for _, o := range d.Outputs {
		want := storepath.Output(h, d.Name(), o.Name)
		if d.FixedOutput() {
			method, algo := "", o.HashAlgo
			if strings.HasPrefix(algo, "r:") {
				method, algo = "r:", algo[2:]
			}
			want = storepath.FixedOutput(d.Name(), method, algo, o.Hash)
		}
		if o.Path != want {
			return fmt.Errorf("%w: output %q is %s, but the derivation hashes to %s", ErrInvalid, o.Name, o.Path, want)
		}
		if v, ok := d.Getenv(o.Name); !ok || v != o.Path {
			return fmt.Errorf("%w: env %q is %q, want the output path %s", ErrInvalid, o.Name, v, o.Path)
		}
	}
	return nil
}
