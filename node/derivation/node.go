package derivation

import (
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
)

// fromNode maps a decoded DAG-JSON node onto a Derivation, strictly.
func fromNode(n datamodel.Node) (*Derivation, error) {
	if n.Kind() != datamodel.Kind_Map {
		return nil, invalid("top level must be an object, got %s", n.Kind())
	}
	d := &Derivation{}
	it := n.MapIterator()
	for !it.Done() {
		k, v, err := it.Next()
		if err != nil {
			return nil, invalid("%v", err)
		}
		key, err := k.AsString()
		if err != nil {
			return nil, invalid("object key: %v", err)
		}
		switch key {
		case "args":
			d.Args, err = strList(key, v)
		case "builder":
			d.Builder, err = str(key, v)
		case "env":
			d.Env, err = strMap(key, v)
		case "inputs":
			d.Inputs, err = inputs(v)
		case "name":
			d.Name, err = str(key, v)
		case "nix":
			d.Nix, err = nixLayout(v)
		case "outputHash":
			var s string
			if s, err = str(key, v); err == nil {
				if d.OutputHash, err = ParseOutputHash(s); err != nil {
					err = fmt.Errorf("%w: %w", ErrInvalid, err)
				}
			}
		case "outputs":
			d.Outputs, err = strList(key, v)
		case "system":
			d.System, err = str(key, v)
		default:
			err = invalid("unknown field %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

func str(field string, v datamodel.Node) (string, error) {
	s, err := v.AsString()
	if err != nil {
		return "", invalid("%s must be a string, got %s", field, v.Kind())
	}
	return s, nil
}

func strList(field string, v datamodel.Node) ([]string, error) {
	if v.Kind() != datamodel.Kind_List {
		return nil, invalid("%s must be a list of strings, got %s", field, v.Kind())
	}
	out := []string{}
	it := v.ListIterator()
	for !it.Done() {
		i, e, err := it.Next()
		if err != nil {
			return nil, invalid("%s: %v", field, err)
		}
		s, err := str(fmt.Sprintf("%s[%d]", field, i), e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func strMap(field string, v datamodel.Node) (map[string]string, error) {
	if v.Kind() != datamodel.Kind_Map {
		return nil, invalid("%s must be an object of strings, got %s", field, v.Kind())
	}
	out := map[string]string{}
	it := v.MapIterator()
	for !it.Done() {
		k, e, err := it.Next()
		if err != nil {
			return nil, invalid("%s: %v", field, err)
		}
		ks, _ := k.AsString()
		if out[ks], err = str(field+"."+ks, e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func inputs(v datamodel.Node) ([]Input, error) {
	if v.Kind() != datamodel.Kind_List {
		return nil, invalid("inputs must be a list, got %s", v.Kind())
	}
	out := []Input{}
	it := v.ListIterator()
	for !it.Done() {
		i, e, err := it.Next()
		if err != nil {
			return nil, invalid("inputs: %v", err)
		}
		switch e.Kind() {
		case datamodel.Kind_String:
			s, _ := e.AsString()
			c, err := cid.Decode(s)
			if err != nil {
				return nil, invalid("inputs[%d] %q is not a CID: %v", i, s, err)
			}
			if c.String() != s {
				return nil, invalid("inputs[%d] %q: write CIDs as CIDv1 base32 (%s)", i, s, c)
			}
			out = append(out, Input{CID: c})
		case datamodel.Kind_Map:
			var in Input
			mi := e.MapIterator()
			for !mi.Done() {
				k, val, err := mi.Next()
				if err != nil {
					return nil, invalid("inputs[%d]: %v", i, err)
				}
				ks, _ := k.AsString()
				s, err := str(fmt.Sprintf("inputs[%d].%s", i, ks), val)
				if err != nil {
					return nil, err
				}
				switch ks {
				case "drv":
					c, err := cid.Decode(s)
					if err != nil || c.String() != s {
						return nil, invalid("inputs[%d].drv %q is not a CIDv1 base32 CID", i, s)
					}
					in.Drv = c
				case "output":
					in.Output = s
				default:
					return nil, invalid("inputs[%d]: unknown field %q", i, ks)
				}
			}
			if !in.Drv.Defined() || in.Output == "" {
				return nil, invalid("inputs[%d] must have both drv and output", i)
			}
			out = append(out, in)
		default:
			return nil, invalid("inputs[%d] must be a CID string or {\"drv\":…,\"output\":…}, got %s", i, e.Kind())
		}
	}
	return out, nil
}
