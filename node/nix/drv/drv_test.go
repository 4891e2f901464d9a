package drv

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildchain/buildchain/node/nix/nixtest"
	"github.com/buildchain/buildchain/node/nix/storepath"
)

// loadClosure parses a .drv and every input derivation from the store at root, checking each
// against Nix: it prints back to the same bytes, hashes to its own path and to its outputs.
func loadClosure(t *testing.T, root, drvPath string, seen map[string]*Derivation) *Derivation {
	t.Helper()
	if d, ok := seen[drvPath]; ok {
		return d
	}
	data, err := os.ReadFile(nixtest.OnDisk(root, drvPath))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(data)
	if err != nil {
		t.Fatalf("parse %s: %v", drvPath, err)
	}
	if got := d.Bytes(); string(got) != string(data) {
		t.Fatalf("%s does not print back to its bytes:\n got %s\nwant %s", drvPath, got, data)
	}
	if got := d.Path(); got != drvPath {
		t.Fatalf("path of %s computed as %s", drvPath, got)
	}
	for _, in := range d.InputDrvs {
		loadClosure(t, root, in.Path, seen)
	}
	if err := d.CheckOutputPaths(hasher(seen)); err != nil {
		t.Fatalf("%s: %v", drvPath, err)
	}
	seen[drvPath] = d
	return d
}

func hasher(drvs map[string]*Derivation) func(string) ([sha256.Size]byte, error) {
	var h func(string) ([sha256.Size]byte, error)
	h = func(p string) ([sha256.Size]byte, error) {
		d, ok := drvs[p]
		if !ok {
			return [sha256.Size]byte{}, fmt.Errorf("no derivation %s", p)
		}
		return d.HashModulo(false, h)
	}
	return h
}

// TestAgainstNix instantiates derivations with the real nix (escapes in every field, a
// fixed-output derivation, an input derivation, several outputs, a flat fixed output) and
// checks that Parse, Bytes, Path and the output paths agree with Nix's.
func TestAgainstNix(t *testing.T) {
	nixtest.Need(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	bb := nixtest.Busybox(t, dir)
	expr := fmt.Sprintf(`
let
  bb = builtins.path { path = %q; name = "busybox"; };
  fixed = builtins.derivation {
    name = "fixed"; system = "x86_64-linux"; builder = "${bb}/bin/sh";
    args = [ "-c" "echo -n hi > $out" ];
    outputHashMode = "flat"; outputHashAlgo = "sha256";
    outputHash = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4";
  };
  rfixed = builtins.derivation {
    name = "rfixed"; system = "x86_64-linux"; builder = "${bb}/bin/sh";
    args = [ "-c" "mkdir $out" ];
    outputHashMode = "recursive"; outputHashAlgo = "sha256";
    outputHash = "0sg9f58l1jj88w6pdrfdpj5x9b1zrwszk84j81zvby36q9whhhqa";
  };
  multi = builtins.derivation {
    name = "multi"; system = "x86_64-linux"; builder = "${bb}/bin/sh";
    outputs = [ "out" "dev" "lib" ];
    args = [ "-c" "tab\there \"quoted\" back\\slash\nnewline\r" ];
  };
  top = builtins.derivation {
    name = "top"; system = "x86_64-linux"; builder = "${bb}/bin/sh";
    args = [ "-c" "${fixed} ${rfixed} ${multi.dev} ${multi}" ];
    weird = "a\"b\\c\nd";
  };
in [ top ]
`, bb)
	paths := nixtest.Instantiate(t, root, dir, expr)
	if len(paths) != 1 {
		t.Fatalf("instantiate printed %q", paths)
	}
	seen := map[string]*Derivation{}
	top := loadClosure(t, root, paths[0], seen)
	if len(seen) != 4 {
		t.Fatalf("closure has %d derivations, want 4", len(seen))
	}
	if v, _ := top.Getenv("weird"); v != "a\"b\\c\nd" {
		t.Fatalf("env weird = %q", v)
	}
	for _, d := range seen {
		if d.Name() == "multi" && d.Args[1] != "tab\there \"quoted\" back\\slash\nnewline\r" {
			t.Fatalf("args of multi: %q", d.Args)
		}
		if d.Name() == "fixed" && !d.FixedOutput() {
			t.Fatal("fixed is not a fixed-output derivation")
		}
	}
	if err := top.CheckInputAddressed(); err != nil {
		t.Fatal(err)
	}
	for _, d := range seen {
		if d.Name() == "multi" {
			if err := d.CheckInputAddressed(); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("multi: %v", err)
			}
		}
	}
}

const sample = `Derive([("out","/nix/store/0fcp9vm2ny20i1bwwgqnzgicqhd110yf-a","","")],[],["/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-busybox"],"x86_64-linux","/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-busybox/bin/sh",["-c","echo hello > $out"],[("builder","/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-busybox/bin/sh"),("name","a"),("out","/nix/store/0fcp9vm2ny20i1bwwgqnzgicqhd110yf-a"),("system","x86_64-linux")])`

func TestParseErrors(t *testing.T) {
	if _, err := Parse([]byte(sample)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in string
		want     error
		msg      string
	}{
		{"empty", "", ErrSyntax, `at byte 0 (end of input): expected "Derive("`},
		{"json", `{"out":1}`, ErrSyntax, "expected \"Derive(\""},
		{"truncated", sample[:100], ErrSyntax, "end of input"},
		{"trailing", sample + "x", ErrSyntax, "trailing bytes"},
		{"unterminated", `Derive([("out`, ErrSyntax, "unterminated string"},
		{"missing comma", strings.Replace(sample, `],[],[`, `][],[`, 1), ErrSyntax, `expected ","`},
		{"unsorted env", strings.Replace(sample, `("name","a"),`, ``, 1) + "", ErrInvalid, "no env variable \"name\""},
		{"bad source", strings.Replace(sample, `["/nix/store/ap5lw0pk87zllpr8psdiqgxx50yqpp1h-busybox"],"x86`, `["/tmp/x"],"x86`, 1), ErrInvalid, "does not start with /nix/store/"},
		{"dynamic", `DrvWithVersion("xp-dyn-drv",[])`, ErrUnsupported, "DrvWithVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestCheckOutputPathsRefusesEdits(t *testing.T) {
	d, err := Parse([]byte(strings.ReplaceAll(sample, "echo hello", "echo bye")))
	if err != nil {
		t.Fatal(err)
	}
	err = d.CheckOutputPaths(func(string) ([sha256.Size]byte, error) { return [sha256.Size]byte{}, nil })
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "hashes to") {
		t.Fatalf("an edited derivation keeps its output path: %v", err)
	}
	ca, err := Parse([]byte(strings.Replace(sample, `("out","/nix/store/0fcp9vm2ny20i1bwwgqnzgicqhd110yf-a","","")`, `("out","","r:sha256","")`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.CheckInputAddressed(); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "__contentAddressed") {
		t.Fatalf("content-addressed: %v", err)
	}
	if storepath.Name(d.Outputs[0].Path) != "a" {
		t.Fatal(d.Outputs[0].Path)
	}
}
