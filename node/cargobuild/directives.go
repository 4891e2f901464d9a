package cargobuild

import (
	"bufio"
	"fmt"
	"sort"
	"strings"
)

// directives are the instructions a build script printed (`cargo:KEY=VALUE` lines), as cargo
// applies them to the compiles of its package.
type directives struct {
	cfgs       []string          // --cfg
	env        map[string]string // rustc-env
	linkLibs   []string          // -l
	linkSearch []string          // -L (also for every dependent)
	linkArgs   []linkArg         // -C link-arg=, for the package's linked targets
	warnings   []string
	// metadata are the other KEY=VALUE lines, in order: for a package with `links = "NAME"`,
	// cargo gives them to the build scripts of the packages depending on it as
	// DEP_{NAME}_{KEY} (depMetadataEnv).
	metadata [][2]string
}

// linkArg is a rustc-link-arg* instruction: the argument and which targets it is for.
type linkArg struct {
	arg string
	// to is "" (every linked target: binaries and cdylibs), "bins", "bin:NAME" or "cdylib".
	to string
}

// ignoredKeys are cargo's own instructions this package does not apply (rerun-if-* decide
// when cargo reruns a script, the rest target artifacts cargo build does not make here): never
// metadata.
var ignoredKeys = map[string]bool{"rerun-if-changed": true, "rerun-if-env-changed": true,
	"rustc-link-arg-tests": true, "rustc-link-arg-examples": true, "rustc-link-arg-benches": true}

// parseDirectives reads a build script's stdout, as cargo's BuildOutput::parse does.
func parseDirectives(out string) (*directives, error) {
	d := &directives{env: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimRight(sc.Text(), "\r"), "cargo:")
		if !ok {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch key {
		case "rustc-cfg":
			d.cfgs = append(d.cfgs, val)
		case "rustc-env":
			k, v, ok := strings.Cut(val, "=")
			if !ok {
				return nil, fmt.Errorf("cargo:rustc-env=%s: not NAME=VALUE", val)
			}
			d.env[k] = v
		case "rustc-link-lib":
			d.linkLibs = append(d.linkLibs, val)
		case "rustc-link-search":
			d.linkSearch = append(d.linkSearch, val)
		case "rustc-link-arg":
			d.linkArgs = append(d.linkArgs, linkArg{arg: val})
		case "rustc-link-arg-bins":
			d.linkArgs = append(d.linkArgs, linkArg{arg: val, to: "bins"})
		case "rustc-link-arg-cdylib", "rustc-cdylib-link-arg":
			d.linkArgs = append(d.linkArgs, linkArg{arg: val, to: "cdylib"})
		case "rustc-link-arg-bin":
			bin, arg, ok := strings.Cut(val, "=")
			if !ok || bin == "" {
				return nil, fmt.Errorf("cargo:rustc-link-arg-bin=%s: not BIN=ARG", val)
			}
			d.linkArgs = append(d.linkArgs, linkArg{arg: arg, to: "bin:" + bin})
		case "rustc-flags":
			f := strings.Fields(val)
			for i := 0; i < len(f); i++ {
				flag, v := f[i], ""
				if len(flag) > 2 {
					flag, v = f[i][:2], f[i][2:]
				} else if i+1 < len(f) {
					i++
					v = f[i]
				}
				switch flag {
				case "-l":
					d.linkLibs = append(d.linkLibs, v)
				case "-L":
					d.linkSearch = append(d.linkSearch, v)
				default:
					return nil, fmt.Errorf("cargo:rustc-flags=%s: only -l and -L are allowed", val)
				}
			}
		case "warning":
			d.warnings = append(d.warnings, val)
		default:
			if !ignoredKeys[key] {
				d.metadata = append(d.metadata, [2]string{key, val})
			}
		}
	}
	return d, sc.Err()
}

// rustcArgs are the arguments the directives add to a compile of the script's own package:
// bin is the name of the binary it links ("" for none), cdylib whether it links a cdylib.
func (d *directives) rustcArgs(bin string, cdylib bool) []string {
	var out []string
	for _, c := range d.cfgs {
		out = append(out, "--cfg", c)
	}
	for _, s := range d.linkSearch {
		out = append(out, "-L", s)
	}
	for _, l := range d.linkLibs {
		out = append(out, "-l", l)
	}
	for _, a := range d.linkArgs {
		if a.to == "" && (bin != "" || cdylib) || a.to == "bins" && bin != "" || a.to == "bin:"+bin && bin != "" || a.to == "cdylib" && cdylib {
			out = append(out, "-C", "link-arg="+a.arg)
		}
	}
	return out
}

func (d *directives) envKeys() []string {
	keys := make([]string, 0, len(d.env))
	for k := range d.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// depMetadataEnv adds to env what cargo gives a build script from the script of a dependency
// whose package has `links = "NAME"` (its run is a direct dependency of the run): each
// metadata line KEY=VALUE as DEP_{NAME}_{KEY}, both upper-cased with - as _ (cargo's envify).
func (d *directives) depMetadataEnv(links string, env map[string]string) {
	for _, kv := range d.metadata {
		env["DEP_"+envify(links)+"_"+envify(kv[0])] = kv[1]
	}
}

func envify(s string) string { return strings.ReplaceAll(strings.ToUpper(s), "-", "_") }
