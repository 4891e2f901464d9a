package drv

import (
	"fmt"
	"strings"
)

// Parse reads a .drv file: Derive([outputs],[input drvs],[sources],system,builder,[args],[env]).
func Parse(data []byte) (*Derivation, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d a derivation may have", ErrSyntax, len(data), MaxSize)
	}
	p := &parser{b: data}
	d, err := p.derivation()
	if err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

type parser struct {
	b   []byte
	pos int
}

func (p *parser) errorf(format string, a ...any) error {
	near := p.b[p.pos:min(len(p.b), p.pos+16)]
	if p.pos >= len(p.b) {
		return fmt.Errorf("%w: at byte %d (end of input): %s", ErrSyntax, p.pos, fmt.Sprintf(format, a...))
	}
	return fmt.Errorf("%w: at byte %d (near %q): %s", ErrSyntax, p.pos, near, fmt.Sprintf(format, a...))
}

func (p *parser) expect(s string) error {
	if !strings.HasPrefix(string(p.b[p.pos:min(len(p.b), p.pos+len(s))]), s) || p.pos+len(s) > len(p.b) {
		return p.errorf("expected %q", s)
	}
	p.pos += len(s)
	return nil
}

func (p *parser) peek(c byte) bool { return p.pos < len(p.b) && p.b[p.pos] == c }

// next consumes one byte of an unfinished what (a string, an escape).
func (p *parser) next(what string) (byte, error) {
	if p.pos >= len(p.b) {
		return 0, p.errorf("unterminated %s", what)
	}
	p.pos++
	return p.b[p.pos-1], nil
}

// str reads a quoted string, undoing Nix's escapes (\n, \r, \t; a backslash before any other
// character stands for that character).
func (p *parser) str() (string, error) {
	if err := p.expect(`"`); err != nil {
		return "", err
	}
	var sb strings.Builder
	for {
		c, err := p.next("string")
		if err != nil {
			return "", err
		}
		switch c {
		case '"':
			return sb.String(), nil
		case '\\':
			e, err := p.next("escape")
			if err != nil {
				return "", err
			}
			switch e {
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			default:
				sb.WriteByte(e)
			}
		default:
			sb.WriteByte(c)
		}
	}
}

// list reads "[" item ("," item)* "]" or "[]".
func (p *parser) list(item func() error) error {
	if err := p.expect("["); err != nil {
		return err
	}
	if p.peek(']') {
		p.pos++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if p.peek(']') {
			p.pos++
			return nil
		}
		if err := p.expect(","); err != nil {
			return p.errorf("expected ',' or ']'")
		}
	}
}

func (p *parser) strList() ([]string, error) {
	var out []string
	err := p.list(func() error {
		s, err := p.str()
		out = append(out, s)
		return err
	})
	return out, err
}

// tuple reads "(" s1 "," s2 ... ")" of n strings.
func (p *parser) tuple(n int) ([]string, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		if i > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, p.expect(")")
}

func (p *parser) derivation() (*Derivation, error) {
	if strings.HasPrefix(string(p.b[:min(len(p.b), 16)]), "DrvWithVersion(") {
		return nil, fmt.Errorf("%w: DrvWithVersion (dynamic derivations, Nix > 2.8) is not supported", ErrUnsupported)
	}
	if err := p.expect("Derive("); err != nil {
		return nil, err
	}
	d := &Derivation{}
	err := p.list(func() error {
		t, err := p.tuple(4)
		if err == nil {
			d.Outputs = append(d.Outputs, Output{Name: t[0], Path: t[1], HashAlgo: t[2], Hash: t[3]})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	err = p.list(func() error {
		if err := p.expect("("); err != nil {
			return err
		}
		path, err := p.str()
		if err != nil {
			return err
		}
		if err := p.expect(","); err != nil {
			return err
		}
		outs, err := p.strList()
		if err != nil {
			return err
		}
		d.InputDrvs = append(d.InputDrvs, InputDrv{Path: path, Outputs: outs})
		return p.expect(")")
	})
	if err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	if d.InputSrcs, err = p.strList(); err != nil {
		return nil, err
	}
	for _, f := range []*string{&d.System, &d.Builder} {
		if err := p.expect(","); err != nil {
			return nil, err
		}
		if *f, err = p.str(); err != nil {
			return nil, err
		}
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	if d.Args, err = p.strList(); err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	err = p.list(func() error {
		t, err := p.tuple(2)
		if err == nil {
			d.Env = append(d.Env, EnvVar{Name: t[0], Value: t[1]})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	if p.pos != len(p.b) {
		return nil, p.errorf("trailing bytes after the derivation")
	}
	return d, nil
}

// Bytes is the derivation as Nix writes it.
func (d *Derivation) Bytes() []byte { return d.unparse(false, d.InputDrvs) }

// unparse is Nix's Derivation::unparse; maskOutputs blanks the output paths and their env
// variables (for hashing), inputs replaces the input derivations (by their hashes).
func (d *Derivation) unparse(maskOutputs bool, inputs []InputDrv) []byte {
	var b strings.Builder
	b.WriteString("Derive([")
	writeTuples(&b, len(d.Outputs), func(i int) {
		o := d.Outputs[i]
		path := o.Path
		if maskOutputs {
			path = ""
		}
		writeStrings(&b, ",", o.Name, path, o.HashAlgo, o.Hash)
	})
	b.WriteString("],[")
	writeTuples(&b, len(inputs), func(i int) {
		writeString(&b, inputs[i].Path)
		b.WriteByte(',')
		writeList(&b, inputs[i].Outputs)
	})
	b.WriteString("],")
	writeList(&b, d.InputSrcs)
	b.WriteByte(',')
	writeStrings(&b, ",", d.System, d.Builder)
	b.WriteByte(',')
	writeList(&b, d.Args)
	b.WriteString(",[")
	writeTuples(&b, len(d.Env), func(i int) {
		e := d.Env[i]
		v := e.Value
		if maskOutputs {
			if _, isOut := d.Output(e.Name); isOut {
				v = ""
			}
		}
		writeStrings(&b, ",", e.Name, v)
	})
	b.WriteString("])")
	return []byte(b.String())
}

// writeTuples writes n tuples "(...)" separated by commas, each's fields by field(i).
func writeTuples(b *strings.Builder, n int, field func(i int)) {
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		field(i)
		b.WriteByte(')')
	}
}

func writeList(b *strings.Builder, ss []string) {
	b.WriteByte('[')
	writeStrings(b, ",", ss...)
	b.WriteByte(']')
}

func writeStrings(b *strings.Builder, sep string, ss ...string) {
	for i, s := range ss {
		if i > 0 {
			b.WriteString(sep)
		}
		writeString(b, s)
	}
}

// writeString quotes s as Nix's printString does.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
