package cargobuild

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A build script's lines: cargo's instructions are applied, the other KEY=VALUE lines are
// metadata, which a package with links = "NAME" gives its dependents' scripts as
// DEP_{NAME}_{KEY} (cargo's envify: upper case, - as _).
func TestDirectivesMetadata(t *testing.T) {
	d, err := parseDirectives("cargo:rustc-cfg=has_x\ncargo:include=/ipfs/store/bafyx/out/include\n" +
		"cargo:rerun-if-changed=build.rs\ncargo:rustc-link-arg-tests=-v\nnot an instruction\n" +
		"cargo:root-dir=/r\ncargo:warning=careful\ncargo:version=1.2\n")
	require.NoError(t, err)
	require.Equal(t, []string{"has_x"}, d.cfgs)
	require.Equal(t, []string{"careful"}, d.warnings)
	require.Equal(t, [][2]string{{"include", "/ipfs/store/bafyx/out/include"}, {"root-dir", "/r"}, {"version", "1.2"}}, d.metadata)
	env := map[string]string{}
	d.depMetadataEnv("z-sys", env)
	require.Equal(t, map[string]string{"DEP_Z_SYS_INCLUDE": "/ipfs/store/bafyx/out/include", "DEP_Z_SYS_ROOT_DIR": "/r",
		"DEP_Z_SYS_VERSION": "1.2"}, env)
}

// rustc-link-arg* instructions reach the targets cargo gives them to: every binary and cdylib,
// the binaries, one binary by name, the cdylibs; never a library's compile.
func TestDirectivesLinkArgs(t *testing.T) {
	d, err := parseDirectives("cargo:rustc-link-arg=-all\ncargo:rustc-link-arg-bins=-bins\ncargo:rustc-link-arg-bin=tool=-tool\n" +
		"cargo:rustc-link-arg-cdylib=-cdylib\ncargo:rustc-cdylib-link-arg=-old-cdylib\ncargo:rustc-link-arg-tests=-tests\n")
	require.NoError(t, err)
	require.Empty(t, d.metadata)
	for _, tc := range []struct {
		bin    string
		cdylib bool
		want   []string
	}{
		{"tool", false, []string{"-all", "-bins", "-tool"}},
		{"other", false, []string{"-all", "-bins"}},
		{"", true, []string{"-all", "-cdylib", "-old-cdylib"}},
		{"", false, nil},
	} {
		var got []string
		args := d.rustcArgs(tc.bin, tc.cdylib)
		for i := 0; i+1 < len(args); i += 2 {
			require.Equal(t, "-C", args[i])
			got = append(got, args[i+1][len("link-arg="):])
		}
		require.Equal(t, tc.want, got, "bin %q cdylib %v", tc.bin, tc.cdylib)
	}
	_, err = parseDirectives("cargo:rustc-link-arg-bin=-no-bin-name\n")
	require.Error(t, err)
}
