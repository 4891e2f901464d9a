package runtime

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	cid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/p2p"
	"github.com/buildchain/buildchain/node/storefs"
)

func rawCID(s string) cid.Cid {
	h, _ := mh.Sum([]byte(s), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

type fakeChain struct {
	out   string
	found bool
	err   error
	asked []cid.Cid
}

func (f *fakeChain) VerifiedOutput(_ context.Context, drv cid.Cid) (string, uint64, bool, error) {
	f.asked = append(f.asked, drv)
	return f.out, 9, f.found, f.err
}

type fakeFetcher struct {
	err     error
	fetched []cid.Cid
	held    int
}

func (f *fakeFetcher) Fetch(_ context.Context, root cid.Cid, _ func(int, int)) (p2p.FetchStats, func(), error) {
	f.fetched = append(f.fetched, root)
	if f.err != nil {
		return p2p.FetchStats{}, func() {}, f.err
	}
	f.held++
	return p2p.FetchStats{Blocks: 1, Fetched: 1}, func() { f.held-- }, nil
}

func TestSubstitutionDecisions(t *testing.T) {
	ctx := context.Background()
	d := &derivation.Derivation{Name: "x"}
	drv, out := rawCID("drv"), rawCID("out")
	var log strings.Builder
	cases := []struct {
		name    string
		chain   *fakeChain
		fetch   *fakeFetcher
		wantOK  bool
		wantErr bool
		wantLog string
	}{
		{"verified and fetched", &fakeChain{out: out.String(), found: true}, &fakeFetcher{}, true, false, "substituted"},
		{"nothing verified", &fakeChain{}, &fakeFetcher{}, false, false, "no verified output"},
		{"chain unreachable builds locally", &fakeChain{err: errors.New("connection refused")}, &fakeFetcher{}, false, false, "cannot ask the chain"},
		{"peers do not have it", &fakeChain{out: out.String(), found: true}, &fakeFetcher{err: errors.New("timeout")}, false, false, "could not be fetched"},
		{"malformed CID on chain", &fakeChain{out: "zzz", found: true}, &fakeFetcher{}, false, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log.Reset()
			s := &Substitution{Chain: tc.chain, Fetch: tc.fetch.Fetch, Log: &log}
			got, ok, err := s.Substitute(ctx, drv, d)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantOK, ok)
			if ok {
				require.Equal(t, out, got)
				require.Equal(t, []cid.Cid{out}, tc.fetch.fetched)
				require.Equal(t, 1, tc.fetch.held, "the fetched output is held until Release")
			}
			s.Release()
			require.Zero(t, tc.fetch.held)
			require.Contains(t, log.String(), tc.wantLog)
			require.Equal(t, []cid.Cid{drv}, tc.chain.asked)
		})
	}
}

// A substituted derivation is not built: the builder (which would need a
// sandbox and the missing input) is never run. The one recursion asks the
// substitute about dependencies too, with their outputs resolved into the
// dependent derivation.
func TestBuildWithSubstitutionSkipsTheBuild(t *testing.T) {
	dir := t.TempDir()
	s, err := storefs.Open(filepath.Join(dir, "ipfs"))
	require.NoError(t, err)
	defer s.Close()
	b, err := builder.New(s, builder.Config{StateDir: filepath.Join(dir, "builds")})
	require.NoError(t, err)
	tools := rawCID("tools-not-in-the-store")
	d := &derivation.Derivation{Name: "hello", System: builder.HostSystem(), Builder: "/ipfs/store/" + tools.String() + "/bin/sh",
		Args: []string{"-c", "true"}, Env: map[string]string{}, Inputs: []derivation.Input{{CID: tools}}, Outputs: []string{"out"}}
	drv, err := b.AddDerivation(d)
	require.NoError(t, err)
	out := rawCID("the-verified-output")
	var asked []cid.Cid
	sub := func(_ context.Context, resolved cid.Cid, _ *derivation.Derivation) (cid.Cid, bool, error) {
		asked = append(asked, resolved)
		return out, true, nil
	}
	res, err := b.Build(context.Background(), drv, builder.Options{Substitute: sub})
	require.NoError(t, err)
	require.True(t, res.Substituted)
	require.Equal(t, out, res.Output)
	require.Equal(t, []cid.Cid{drv}, asked, "asked about the resolved derivation (itself: no derivation inputs)")

	// A dependent derivation: the dependency is substituted, then the
	// dependent one (resolved with the dependency's output) is asked about.
	top := &derivation.Derivation{Name: "top", System: builder.HostSystem(), Builder: "/ipfs/store/" + tools.String() + "/bin/sh",
		Args: []string{"-c", "true"}, Env: map[string]string{}, Inputs: []derivation.Input{{CID: tools}, {Drv: drv, Output: "out"}}, Outputs: []string{"out"}}
	topC, err := b.AddDerivation(top)
	require.NoError(t, err)
	asked = nil
	res, err = b.Build(context.Background(), topC, builder.Options{Substitute: sub})
	require.NoError(t, err)
	require.True(t, res.Substituted)
	require.Len(t, asked, 2)
	require.Equal(t, drv, asked[0], "the dependency first")
	resolved, err := b.LoadDerivation(asked[1])
	require.NoError(t, err)
	require.Equal(t, out, resolved.Inputs[1].CID, "the dependent derivation resolved with the substituted output")
	require.Equal(t, res.Resolved, asked[1])

	// Without a substitute the build runs, and fails on the missing input:
	// proof that the first call did not build.
	none := func(context.Context, cid.Cid, *derivation.Derivation) (cid.Cid, bool, error) {
		return cid.Undef, false, nil
	}
	res, err = b.Build(context.Background(), drv, builder.Options{Substitute: none})
	require.Nil(t, res)
	require.ErrorIs(t, err, builder.ErrMissingInput)
}
