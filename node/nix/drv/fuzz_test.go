package drv

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse: any input either parses into a derivation that prints back to exactly the same
// bytes, or fails with one of the package's errors; it never panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`Derive([],[],[],"","",[],[])`))
	f.Add([]byte(`Derive([("out","","r:sha256","")],[("/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-x.drv",["out"])],[],"s","b",["\n\"\\"],[("name","x")])`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		// Escapes other than Nix's own (e.g. \x for x) parse but print canonically, and so do
		// raw newlines, carriage returns and tabs in strings, which Nix's parser takes as they
		// are and its printer escapes (testdata/fuzz/FuzzParse/46e1c13604ad33f6, a raw \r).
		if !bytes.ContainsAny(data, "\\\n\r\t") && !bytes.Equal(d.Bytes(), data) {
			t.Fatalf("round trip:\n in %q\nout %q", data, d.Bytes())
		}
		d2, err := Parse(d.Bytes())
		if err != nil || !bytes.Equal(d2.Bytes(), d.Bytes()) {
			t.Fatalf("canonical form does not parse back: %v", err)
		}
	})
}
