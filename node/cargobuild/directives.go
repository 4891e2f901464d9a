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
	linkArgs   []string          // -C link-arg=, for the package's binaries
	warnings   []string
}

// parseDirectives reads a build script's stdout. Unknown keys are metadata for dependents'
// scripts (DEP_{LINKS}_{KEY}), which is not supported and so ignored, as are rerun-if-*.
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
		case "rustc-link-arg", "rustc-link-arg-bins":
			d.linkArgs = append(d.linkArgs, val)
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
		}
	}
	return d, sc.Err()
}

// rustcArgs are the arguments the directives add to a compile of the script's own package
// (bin says whether it links a binary).
func (d *directives) rustcArgs(bin bool) []string {
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
	if bin {
		for _, a := range d.linkArgs {
			out = append(out, "-C", "link-arg="+a)
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
