package derivation

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mc "github.com/multiformats/go-multicodec"
	"github.com/stretchr/testify/require"
)

const bb = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"

func sample() *Derivation {
	return &Derivation{
		Args:    []string{"-c", "echo hi > $out"},
		Builder: "/ipfs/store/" + bb + "/bin/sh",
		Env:     map[string]string{"b": "2", "a": "1"},
		Inputs:  []Input{{CID: cid.MustParse(bb)}},
		Name:    "hello",
		Outputs: []string{"out"},
		System:  "x86_64-linux",
	}
}

func TestCanonicalEncoding(t *testing.T) {
	b, c, err := sample().Block()
	require.NoError(t, err)
	require.Equal(t, `{"args":["-c","echo hi > $out"],"builder":"/ipfs/store/`+bb+`/bin/sh","env":{"a":"1","b":"2"},"inputs":["`+bb+`"],"name":"hello","outputs":["out"],"system":"x86_64-linux"}`, string(b))
	require.Equal(t, uint64(mc.DagJson), c.Prefix().Codec)
	require.Equal(t, uint64(1), c.Version())
	d, err := DecodeBlock(c, b)
	require.NoError(t, err)
	require.Equal(t, sample().Env, d.Env)
	// Same derivation written differently by a person parses to the same CID.
	pretty := "{\n  \"system\": \"x86_64-linux\", \"name\": \"hello\", \"outputs\": [\"out\"],\n" +
		"  \"inputs\": [\"" + bb + "\"], \"env\": {\"b\": \"2\", \"a\": \"1\"},\n" +
		"  \"builder\": \"/ipfs/store/" + bb + "/bin/sh\", \"args\": [\"-c\", \"echo hi > $out\"]\n}\n"
	p, err := Parse([]byte(pretty))
	require.NoError(t, err)
	_, c2, err := p.Block()
	require.NoError(t, err)
	require.Equal(t, c, c2)
	// …but as a block it is rejected.
	_, err = Decode([]byte(pretty))
	require.ErrorIs(t, err, ErrNonCanonical)
	// A block that does not hash to its CID is rejected.
	_, err = DecodeBlock(c, append(b[:len(b)-1:len(b)-1], ' '))
	require.Error(t, err)
}

func TestValidationErrors(t *testing.T) {
	good, _, err := sample().Block()
	require.NoError(t, err)
	cases := map[string]struct{ json, want string }{
		"unknown field":   {strings.Replace(string(good), `"name"`, `"color":"red","name"`, 1), `unknown field "color"`},
		"missing builder": {strings.Replace(string(good), `"builder":"/ipfs/store/`+bb+`/bin/sh",`, ``, 1), "missing builder"},
		"unknown system":  {strings.Replace(string(good), "x86_64-linux", "pdp11-unix", 1), `unknown system "pdp11-unix"`},
		"case variant":    {strings.Replace(string(good), `"name"`, `"Name"`, 1), `unknown field "Name"`},
		"duplicate key":   {strings.Replace(string(good), `"name":"hello"`, `"name":"hello","name":"x"`, 1), "invalid derivation"},
		"bad input cid":   {strings.Replace(string(good), `"inputs":["`+bb, `"inputs":["notacid`, 1), "not a CID"},
		"host builder":    {strings.Replace(string(good), `/ipfs/store/`+bb+`/bin/sh`, `/bin/sh`, 1), "not inside an input"},
		"reserved env":    {strings.Replace(string(good), `"a":"1"`, `"HOME":"/root"`, 1), `env "HOME" is set by the sandbox`},
		"not json":        {`{"args":`, "not DAG-JSON"},
		"two outputs":     {strings.Replace(string(good), `["out"]`, `["out","dev"]`, 1), "multiple outputs"},
		"dup input":       {strings.Replace(string(good), `"inputs":["`+bb+`"]`, `"inputs":["`+bb+`","`+bb+`"]`, 1), "listed twice"},
		"bad ref":         {strings.Replace(string(good), `echo hi`, `{{drv:`+bb+`:out}}`, 1), "does not name an input"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.json))
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestResolve(t *testing.T) {
	_, dep, err := sample().Block()
	require.NoError(t, err)
	d := sample()
	d.Name = "app"
	d.Inputs = append(d.Inputs, Input{Drv: dep, Output: "out"})
	d.Args = []string{"-c", "cp " + Ref(dep, "out") + "/x $out"}
	d.Env = map[string]string{"DEP": Ref(dep, "out")}
	b, c, err := d.Block()
	require.NoError(t, err)
	require.Contains(t, string(b), `{"drv":"`+dep.String()+`","output":"out"}`)
	back, err := DecodeBlock(c, b)
	require.NoError(t, err)
	require.False(t, back.Resolved())
	require.Len(t, back.Refs(), 1)

	_, err = back.Resolve(map[string]cid.Cid{})
	require.ErrorIs(t, err, ErrUnresolved)

	outCID := cid.MustParse("bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	r, err := back.Resolve(map[string]cid.Cid{Input{Drv: dep, Output: "out"}.String(): outCID})
	require.NoError(t, err)
	require.True(t, r.Resolved())
	require.Equal(t, []string{"-c", "cp /ipfs/store/" + outCID.String() + "/x $out"}, r.Args)
	require.Equal(t, "/ipfs/store/"+outCID.String(), r.Env["DEP"])
	require.Equal(t, []Input{{CID: cid.MustParse(bb)}, {CID: outCID}}, r.Inputs)
	_, rc, err := r.Block()
	require.NoError(t, err)
	require.NotEqual(t, c, rc)
}

func TestFixedOutput(t *testing.T) {
	const src = "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	d := sample()
	d.OutputHash = cid.MustParse(src)
	b, c, err := d.Block()
	require.NoError(t, err)
	require.Contains(t, string(b), `"name":"hello","outputHash":"`+src+`","outputs":["out"]`)
	back, err := DecodeBlock(c, b)
	require.NoError(t, err)
	require.True(t, back.Fixed())
	require.Equal(t, d.OutputHash, back.OutputHash)
	_, plain, err := sample().Block()
	require.NoError(t, err)
	require.NotEqual(t, plain, c, "the declared output is part of the derivation")
	r, err := back.Resolve(nil)
	require.NoError(t, err)
	require.Equal(t, d.OutputHash, r.OutputHash)

	good := string(b)
	for name, tc := range map[string]struct{ value, says string }{
		"not a CID":  {"sha256-abc", `"sha256-abc" is not a CID`},
		"CIDv0":      {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n", "want CIDv1"},
		"derivation": {"baguqeeraw5bpukjflsuxhrrfpkupkjfdzbsnfmqt3vnwgi7tr4ynpvtppkkq", "not the CID of a store path"},
		"empty":      {"", "is not a CID"},
		"upper case": {strings.ToUpper(src), "write it as CIDv1 base32"},
	} {
		t.Run(name, func(t *testing.T) {
			bad := strings.Replace(good, src, tc.value, 1)
			_, err := Parse([]byte(bad))
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorIs(t, err, ErrOutputHash)
			require.Contains(t, err.Error(), tc.says)
		})
	}
}

// ShellQuote's words reach the program as they were, quotes, spaces, dollars and all, and each
// OutMark becomes the value of $out.
func TestShellQuote(t *testing.T) {
	words := []string{"plain", "two words", `it's "quoted"`, "$HOME and `cmd`", "", "a\nb", OutMark + "/lib-" + OutMark + "'x"}
	script := "printf '%s|' "
	for _, w := range words {
		script += ShellQuote(w) + " "
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"out=/o u't"}
	got, err := cmd.Output()
	require.NoError(t, err)
	want := ""
	for _, w := range words {
		want += strings.ReplaceAll(w, OutMark, "/o u't") + "|"
	}
	require.Equal(t, want, string(got))
}
